import Foundation
import ModelIR

/// One stored weight of a Keras layer, in Keras's own (channels-last) layout.
struct KerasWeight {
    /// The variable's short name: `kernel`, `bias`, `gamma`, `moving_mean`…
    let name: String
    let dims: [Int]
    let values: [Float]
}

/// A Keras tensor: output 0 of call `node` of layer `layer` (Keras's `[layer, node_index, 0]`).
struct KerasTensorRef: Hashable {
    var layer: String
    var node: Int = 0
}

/// One call of a layer (a Keras "inbound node"): the tensors it reads and the shapes involved.
struct KerasLayerCall {
    var inputs: [KerasTensorRef]
    /// Keras shapes (without the batch) of the inputs and of the output.
    var inputShapes: [[Int?]]
    var outputShape: [Int?]
}

/// One layer of the Keras model being written. A layer whose weights several IR nodes read is
/// called once per node (a shared layer): one set of weights, several calls.
struct KerasLayerSpec {
    var className: String
    var name: String
    /// Class-specific config entries, spelled the way both Keras 2 and Keras 3 accept them.
    var config: [String: Any]
    /// Entries whose spelling differs in Keras 3 (they replace `config`'s entries there).
    var keras3Config: [String: Any] = [:]
    /// The calls in node-index order; an InputLayer has one call without inputs.
    var calls: [KerasLayerCall]
    /// Stored weights, trainable ones first, in Keras's order.
    var weights: [KerasWeight] = []
    /// Merging layers take their inputs as one list argument.
    var takesList: Bool {
        calls.contains { $0.inputs.count > 1 } || ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"].contains(className)
    }
}

/// A whole functional Keras model: layers in `model.layers` order, with inputs and outputs.
struct KerasModelPlan {
    var name: String
    var layers: [KerasLayerSpec]
    var inputs: [KerasTensorRef]
    var outputs: [KerasTensorRef]

    /// The schema versions the configs follow (those of the Keras releases the fixtures come from).
    static let keras2Version = "2.21.0"
    static let keras3Version = "3.15.1"

    /// `model_config` of a Keras 2 legacy `.h5` (tf.keras's Functional JSON).
    func keras2Config() throws -> String {
        let layers: [[String: Any]] = self.layers.map { l in
            var config = l.config
            config["name"] = l.name
            if l.className == "InputLayer" {
                config["batch_input_shape"] = [NSNull()] + l.calls[0].outputShape.map(json)
                config["dtype"] = "float32"
                config["sparse"] = false
                config["ragged"] = false
            } else {
                config["trainable"] = true
                config["dtype"] = "float32"
            }
            let inbound: [Any] = l.className == "InputLayer" ? [] : l.calls.map { call in
                call.inputs.map { [$0.layer, $0.node, 0, [String: Any]()] as [Any] }
            }
            return ["class_name": l.className, "config": config, "name": l.name, "inbound_nodes": inbound]
        }
        let root: [String: Any] = [
            "class_name": "Functional",
            "config": ["name": name, "trainable": true, "layers": layers,
                       "input_layers": inputs.map(Self.history), "output_layers": outputs.map(Self.history)],
            "keras_version": Self.keras2Version, "backend": "tensorflow",
        ]
        return try Self.text(root)
    }

    /// `config.json` of a Keras 3 `.keras` zip.
    func keras3Config() throws -> String {
        var shapes: [KerasTensorRef: [Int?]] = [:]
        for l in layers {
            for (i, call) in l.calls.enumerated() { shapes[KerasTensorRef(layer: l.name, node: i)] = call.outputShape }
        }
        let dtype: [String: Any] = ["module": "keras", "class_name": "DTypePolicy", "config": ["name": "float32"],
                                    "registered_name": NSNull()]
        func tensor(_ ref: KerasTensorRef) -> [String: Any] {
            ["class_name": "__keras_tensor__",
             "config": ["shape": [NSNull()] + (shapes[ref] ?? []).map(json), "dtype": "float32", "keras_history": Self.history(ref)]]
        }
        let layers: [[String: Any]] = self.layers.map { l in
            var config = l.config.merging(l.keras3Config) { _, new in new }
            config["name"] = l.name
            var entry: [String: Any] = ["module": "keras.layers", "class_name": l.className, "registered_name": NSNull(),
                                        "name": l.name]
            if l.className == "InputLayer" {
                config["batch_shape"] = [NSNull()] + l.calls[0].outputShape.map(json)
                config["dtype"] = "float32"
                config["sparse"] = false
                config["ragged"] = false
                entry["inbound_nodes"] = [Any]()
            } else {
                config["trainable"] = true
                config["dtype"] = dtype
                entry["inbound_nodes"] = l.calls.map { call -> [String: Any] in
                    let args: Any = l.takesList ? [call.inputs.map(tensor)] : call.inputs.map(tensor)
                    return ["args": args, "kwargs": [String: Any]()]
                }
                // Keras builds a layer once, from its first call.
                let batched = l.calls[0].inputShapes.map { [NSNull()] + $0.map(json) }
                entry["build_config"] = ["input_shape": l.takesList ? batched as Any : batched[0] as Any]
            }
            entry["config"] = config
            return entry
        }
        func refs(_ tensors: [KerasTensorRef]) -> Any {
            if tensors.count == 1 { return Self.history(tensors[0]) }
            return tensors.map(Self.history)
        }
        let root: [String: Any] = [
            "module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": ["name": name, "trainable": true, "layers": layers, "input_layers": refs(inputs), "output_layers": refs(outputs)],
            "build_config": ["input_shape": NSNull()], "compile_config": NSNull(),
        ]
        return try Self.text(root)
    }

    private func json(_ d: Int?) -> Any { d.map { $0 as Any } ?? NSNull() }

    /// `[layer, node_index, tensor_index]`, as both config formats refer to a tensor.
    private static func history(_ ref: KerasTensorRef) -> [Any] { [ref.layer, ref.node, 0] }

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
    /// The layers in the order Keras's functional API lists `model.layers`: Keras walks the calls
    /// depth-first from the outputs, gives each call a depth (a shared layer's calls take the
    /// largest depth seen so far for that layer), and sorts layers deepest first, ties by the
    /// position of the layer's first call in the walk. Legacy `.h5` weights are matched to layers
    /// by that order and `.keras` group names count in it, so files must follow it.
    func inKerasOrder() -> KerasModelPlan {
        let byName = Dictionary(layers.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        struct Call: Hashable { var layer: Int, node: Int }
        func parents(_ c: Call) -> [Call] {
            layers[c.layer].calls[c.node].inputs.compactMap { ref in
                byName[ref.layer].flatMap { i in ref.node < layers[i].calls.count ? Call(layer: i, node: ref.node) : nil }
            }
        }
        var traversal: [Int: Int] = [:]
        var finished = Set<Call>()
        var postorder: [Call] = []
        func visit(_ c: Call) {
            guard !finished.contains(c) else { return }
            if traversal[c.layer] == nil { traversal[c.layer] = traversal.count }
            for p in parents(c) { visit(p) }
            finished.insert(c)
            postorder.append(c)
        }
        for output in outputs {
            if let i = byName[output.layer], output.node < layers[i].calls.count { visit(Call(layer: i, node: output.node)) }
        }
        var callDepth: [Call: Int] = [:]
        var depth: [Int: Int] = [:]
        for c in postorder.reversed() {
            let d = Swift.max(callDepth[c, default: 0], depth[c.layer, default: 0])
            depth[c.layer] = d
            callDepth[c] = d
            for p in parents(c) { callDepth[p] = Swift.max(callDepth[p, default: 0], d + 1) }
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
