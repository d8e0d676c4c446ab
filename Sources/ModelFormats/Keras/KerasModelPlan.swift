import Foundation
import ModelIR

/// One stored weight of a Keras layer, in Keras's own (channels-last) layout.
struct KerasWeight {
    /// The variable's short name: `kernel`, `bias`, `gamma`, `moving_mean`…
    let name: String
    let dims: [Int]
    let values: [Float]
}

/// One layer of the Keras model being written (every layer is called once: nothing is shared).
struct KerasLayerSpec {
    var className: String
    var name: String
    /// Class-specific config entries, spelled the way both Keras 2 and Keras 3 accept them.
    var config: [String: Any]
    /// Entries whose spelling differs in Keras 3 (they replace `config`'s entries there).
    var keras3Config: [String: Any] = [:]
    /// The layers whose outputs this layer reads, in order.
    var inputs: [String]
    /// Keras shapes (without the batch) of those inputs and of the output.
    var inputShapes: [[Int?]]
    var outputShape: [Int?]
    /// Stored weights, trainable ones first, in Keras's order.
    var weights: [KerasWeight] = []
    /// Merging layers take their inputs as one list argument.
    var takesList: Bool { inputs.count > 1 || ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"].contains(className) }
}

/// A whole functional Keras model: layers in `model.layers` order, with inputs and outputs.
struct KerasModelPlan {
    var name: String
    var layers: [KerasLayerSpec]
    var inputs: [String]
    var outputs: [String]

    /// The schema versions the configs follow (those of the Keras releases the fixtures come from).
    static let keras2Version = "2.21.0"
    static let keras3Version = "3.15.1"

    /// `model_config` of a Keras 2 legacy `.h5` (tf.keras's Functional JSON).
    func keras2Config() throws -> String {
        let layers: [[String: Any]] = self.layers.map { l in
            var config = l.config
            config["name"] = l.name
            if l.className == "InputLayer" {
                config["batch_input_shape"] = [NSNull()] + l.outputShape.map(json)
                config["dtype"] = "float32"
                config["sparse"] = false
                config["ragged"] = false
            } else {
                config["trainable"] = true
                config["dtype"] = "float32"
            }
            let inbound: [Any] = l.inputs.isEmpty ? [] : [l.inputs.map { [$0, 0, 0, [String: Any]()] as [Any] }]
            return ["class_name": l.className, "config": config, "name": l.name, "inbound_nodes": inbound]
        }
        let root: [String: Any] = [
            "class_name": "Functional",
            "config": ["name": name, "trainable": true, "layers": layers,
                       "input_layers": inputs.map { [$0, 0, 0] as [Any] }, "output_layers": outputs.map { [$0, 0, 0] as [Any] }],
            "keras_version": Self.keras2Version, "backend": "tensorflow",
        ]
        return try Self.text(root)
    }

    /// `config.json` of a Keras 3 `.keras` zip.
    func keras3Config() throws -> String {
        let shapes = Dictionary(layers.map { ($0.name, $0.outputShape) }, uniquingKeysWith: { a, _ in a })
        let dtype: [String: Any] = ["module": "keras", "class_name": "DTypePolicy", "config": ["name": "float32"],
                                    "registered_name": NSNull()]
        func tensor(_ layer: String) -> [String: Any] {
            ["class_name": "__keras_tensor__",
             "config": ["shape": [NSNull()] + (shapes[layer] ?? []).map(json), "dtype": "float32", "keras_history": [layer, 0, 0] as [Any]]]
        }
        let layers: [[String: Any]] = self.layers.map { l in
            var config = l.config.merging(l.keras3Config) { _, new in new }
            config["name"] = l.name
            var entry: [String: Any] = ["module": "keras.layers", "class_name": l.className, "registered_name": NSNull(),
                                        "name": l.name]
            if l.className == "InputLayer" {
                config["batch_shape"] = [NSNull()] + l.outputShape.map(json)
                config["dtype"] = "float32"
                config["sparse"] = false
                config["ragged"] = false
                entry["inbound_nodes"] = [Any]()
            } else {
                config["trainable"] = true
                config["dtype"] = dtype
                let args: Any = l.takesList ? [l.inputs.map(tensor)] : l.inputs.map(tensor)
                entry["inbound_nodes"] = [["args": args, "kwargs": [String: Any]()]]
                let batched = l.inputShapes.map { [NSNull()] + $0.map(json) }
                entry["build_config"] = ["input_shape": l.takesList ? batched as Any : batched[0] as Any]
            }
            entry["config"] = config
            return entry
        }
        func refs(_ names: [String]) -> Any {
            if names.count == 1 { return [names[0], 0, 0] as [Any] }
            return names.map { [$0, 0, 0] as [Any] }
        }
        let root: [String: Any] = [
            "module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": ["name": name, "trainable": true, "layers": layers, "input_layers": refs(inputs), "output_layers": refs(outputs)],
            "build_config": ["input_shape": NSNull()], "compile_config": NSNull(),
        ]
        return try Self.text(root)
    }

    private func json(_ d: Int?) -> Any { d.map { $0 as Any } ?? NSNull() }

    static func text(_ object: Any) throws -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            throw ModelError("the Keras model config cannot be encoded as JSON")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A Float attribute as the decimal a person would have typed (1e-3, not 0.0010000000474974513).
    static func decimal(_ value: Float) -> Double { Double(String(describing: value)) ?? Double(value) }
}

extension KerasModelPlan {
    /// The layers in the order Keras's functional API lists `model.layers` (deepest first, ties by
    /// pre-order position in a depth-first walk from the outputs). Legacy `.h5` weights are matched
    /// to layers by that order and `.keras` group names count in it, so files must follow it.
    func inKerasOrder() -> KerasModelPlan {
        let byName = Dictionary(layers.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var traversal: [Int: Int] = [:]
        var finished = Set<Int>()
        var postorder: [Int] = []
        func visit(_ i: Int) {
            guard !finished.contains(i) else { return }
            if traversal[i] == nil { traversal[i] = traversal.count }
            for input in layers[i].inputs { if let j = byName[input] { visit(j) } }
            finished.insert(i)
            postorder.append(i)
        }
        for output in outputs { if let i = byName[output] { visit(i) } }
        var depth: [Int: Int] = [:]
        for i in postorder.reversed() {
            let d = depth[i, default: 0]
            depth[i] = d
            for input in layers[i].inputs {
                if let j = byName[input] { depth[j] = Swift.max(depth[j, default: 0], d + 1) }
            }
        }
        for (i, layer) in layers.enumerated() where layer.className == "InputLayer" && traversal[i] == nil {
            traversal[i] = -1
            depth[i] = 0
        }
        let order = layers.indices.filter { traversal[$0] != nil }.sorted {
            (depth[$0]!, -traversal[$0]!) > (depth[$1]!, -traversal[$1]!)
        }
        var plan = self
        plan.layers = order.map { layers[$0] }
        return plan
    }
}
