import Foundation
import ModelIR

/// A layer's `config` object from Keras's JSON, with typed look-ups that accept every spelling the
/// Keras versions used (a number or a list for sizes, a dict or a string for dtypes).
struct LayerConfig {
    let layer: String
    let values: [String: Any]

    func has(_ key: String) -> Bool { values[key].map { !($0 is NSNull) } ?? false }

    func string(_ key: String, default value: String? = nil) throws -> String {
        if let s = values[key] as? String { return s }
        if let value, !has(key) { return value }
        throw ModelError("layer '\(layer)': config '\(key)' is missing or not a string")
    }

    func bool(_ key: String, default value: Bool) -> Bool { (values[key] as? Bool) ?? value }

    func double(_ key: String, default value: Double? = nil) throws -> Double {
        if let n = values[key] as? NSNumber { return n.doubleValue }
        if let value, !has(key) { return value }
        throw ModelError("layer '\(layer)': config '\(key)' is missing or not a number")
    }

    func optionalDouble(_ key: String) -> Double? { (values[key] as? NSNumber)?.doubleValue }

    func int(_ key: String, default value: Int? = nil) throws -> Int {
        if let n = values[key] as? NSNumber { return n.intValue }
        if let value, !has(key) { return value }
        throw ModelError("layer '\(layer)': config '\(key)' is missing or not an integer")
    }

    /// An int or a list of ints, widened to `count` entries (Keras accepts `3` for `(3, 3)`).
    func ints(_ key: String, count: Int, default value: [Int]? = nil) throws -> [Int] {
        if let n = values[key] as? NSNumber { return Array(repeating: n.intValue, count: count) }
        if let list = values[key] as? [Any] {
            let ints = list.compactMap { ($0 as? NSNumber)?.intValue }
            if ints.count == list.count, ints.count == count { return ints }
            if ints.count == 1, ints.count == list.count { return Array(repeating: ints[0], count: count) }
        }
        if let value, !has(key) { return value }
        throw ModelError("layer '\(layer)': config '\(key)' should be \(count) integers")
    }

    /// A shape list whose nulls are unknown sizes.
    func shape(_ key: String) -> [Int?]? {
        guard let list = values[key] as? [Any] else { return nil }
        return list.map { ($0 as? NSNumber)?.intValue }
    }

    /// Keras's `data_format`; only channels_last (the default) is read.
    func requireChannelsLast() throws {
        let format = (values["data_format"] as? String) ?? "channels_last"
        guard format == "channels_last" else {
            throw ModelError("layer '\(layer)': data_format '\(format)' is not supported (only channels_last)")
        }
    }
}

/// Where a layer call reads a tensor from: the `tensor`-th output of `layer`'s `node`-th call.
struct TensorRef: Hashable, CustomStringConvertible {
    let layer: String
    let node: Int
    let tensor: Int
    var description: String { "\(layer)[\(node)][\(tensor)]" }
}

/// A call's keyword argument: a tensor (an index into the call's inputs) or a JSON value.
enum CallArgument {
    case tensor(Int)
    case value(Any)
}

/// One layer of the model config with every call of it (shared layers are called more than once).
struct KerasLayer {
    let className: String
    let name: String
    let config: LayerConfig
    /// For each call, the tensors it reads, in order.
    var calls: [[TensorRef]]
    /// For each call, its keyword arguments (TF-op layers keep their operands there, e.g. `y: 3.0`);
    /// empty when the config has none.
    var arguments: [[String: CallArgument]] = []
}

/// A model config: layers in config order, and the model's inputs and outputs.
struct KerasModelConfig {
    var name: String
    var className: String
    var layers: [KerasLayer]
    var inputs: [TensorRef]
    var outputs: [TensorRef]

    /// Parses `model_config` / `config.json` / `to_json()` text: Sequential (dict or Keras ≤ 2.2's
    /// bare list), Functional or the older "Model", with Keras 2 list or Keras 3 `args` inbound nodes.
    static func parse(_ text: String, source: String) throws -> KerasModelConfig {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw ModelError("\(source): the model config is not a JSON object")
        }
        let className = (root["class_name"] as? String) ?? ""
        switch className {
        case "Sequential":
            let layers: [Any]
            var name = "sequential"
            if let list = root["config"] as? [Any] {
                layers = list
            } else if let config = root["config"] as? [String: Any], let list = config["layers"] as? [Any] {
                layers = list
                name = (config["name"] as? String) ?? name
            } else {
                throw ModelError("\(source): Sequential config has no layer list")
            }
            return try sequential(layers.map { try layerObject($0, source: source) }, name: name, source: source)
        case "Functional", "Model":
            guard let config = root["config"] as? [String: Any], let list = config["layers"] as? [Any] else {
                throw ModelError("\(source): \(className) config has no layer list")
            }
            var layers: [KerasLayer] = []
            for entry in list {
                let object = try layerObject(entry, source: source)
                var layer = try makeLayer(object, source: source)
                let calls = try inboundCalls(object["inbound_nodes"], layer: layer.name, source: source)
                layer.calls = calls.map(\.inputs)
                layer.arguments = calls.map(\.arguments)
                layers.append(layer)
            }
            return KerasModelConfig(name: (config["name"] as? String) ?? "model", className: className, layers: layers,
                                    inputs: try refs(config["input_layers"], what: "input_layers", source: source),
                                    outputs: try refs(config["output_layers"], what: "output_layers", source: source))
        default:
            throw ModelError("\(source): model class '\(className)' is not Sequential, Functional or Model (subclassed models carry no graph)")
        }
    }

    private static func layerObject(_ any: Any, source: String) throws -> [String: Any] {
        guard let object = any as? [String: Any] else { throw ModelError("\(source): a layer entry is not an object") }
        return object
    }

    private static func makeLayer(_ object: [String: Any], source: String) throws -> KerasLayer {
        let config = (object["config"] as? [String: Any]) ?? [:]
        guard let className = object["class_name"] as? String,
              let name = (object["name"] as? String) ?? (config["name"] as? String) else {
            throw ModelError("\(source): a layer has no class_name or name")
        }
        return KerasLayer(className: className, name: name, config: LayerConfig(layer: name, values: config), calls: [])
    }

    /// A Sequential list becomes a chain, with an InputLayer made from the first layer's
    /// batch_input_shape / batch_shape when the list has none.
    private static func sequential(_ objects: [[String: Any]], name: String, source: String) throws -> KerasModelConfig {
        var layers = try objects.map { try makeLayer($0, source: source) }
        guard let first = layers.first else { throw ModelError("\(source): the Sequential model has no layers") }
        if first.className != "InputLayer" {
            guard let shape = first.config.values["batch_input_shape"] ?? first.config.values["batch_shape"] else {
                throw ModelError("\(source): the Sequential model has no InputLayer and no batch_input_shape")
            }
            let input = KerasLayer(className: "InputLayer", name: "input_1",
                                   config: LayerConfig(layer: "input_1", values: ["batch_input_shape": shape]), calls: [])
            layers.insert(input, at: 0)
        }
        for i in 1..<layers.count { layers[i].calls = [[TensorRef(layer: layers[i - 1].name, node: 0, tensor: 0)]] }
        return KerasModelConfig(name: name, className: "Sequential", layers: layers,
                                inputs: [TensorRef(layer: layers[0].name, node: 0, tensor: 0)],
                                outputs: [TensorRef(layer: layers[layers.count - 1].name, node: 0, tensor: 0)])
    }

    /// Keras 2: `[[[name, node, tensor(, kwargs)], …], …]`, where a TF-op layer (tf_keras's
    /// TFOpLambda, which preserves its input structure) writes its one tensor unwrapped as
    /// `[[name, node, tensor, kwargs], …]`; Keras 3: `[{"args": […], "kwargs": {…}}, …]` where each
    /// tensor is `{"class_name": "__keras_tensor__", "config": {"keras_history": [name, node, tensor]}}`.
    /// Tensors passed as keyword arguments become further inputs of the call.
    private static func inboundCalls(_ any: Any?, layer: String, source: String) throws -> [(inputs: [TensorRef], arguments: [String: CallArgument])] {
        guard let nodes = any as? [Any] else { return [] }
        return try nodes.map { node in
            var found: [TensorRef] = []
            var kwargs: [String: Any] = [:]
            var positional: [String: CallArgument] = [:]
            if let dict = node as? [String: Any] {
                collectHistories(dict["args"] as Any, into: &found)
                kwargs = (dict["kwargs"] as? [String: Any]) ?? [:]
                // Keras 3 records `x + 3.0` as an ops layer (class Add of keras.src.ops.numpy) called
                // with args [x, 3.0]: constants are kept by position as "#0", "#1"….
                for (i, arg) in ((dict["args"] as? [Any]) ?? []).enumerated() {
                    var inside: [TensorRef] = []
                    collectHistories(arg, into: &inside)
                    if inside.isEmpty { positional["#\(i)"] = .value(arg) }
                }
            } else {
                guard let entries = node as? [Any] else { throw ModelError("\(source): layer '\(layer)' has a malformed inbound node") }
                func entry(_ any: Any) throws {
                    guard let list = any as? [Any] else { throw ModelError("\(source): layer '\(layer)' has a malformed inbound entry") }
                    if list.first is [Any] { return try list.forEach(entry) }
                    guard let r = ref(list) else {
                        if list.first as? String == "_CONSTANT_VALUE" {
                            throw ModelError("\(source): layer '\(layer)' has a constant as its first argument, which is not supported")
                        }
                        throw ModelError("\(source): layer '\(layer)' has a malformed inbound entry")
                    }
                    found.append(r)
                    if kwargs.isEmpty, list.count >= 4, let k = list[3] as? [String: Any] { kwargs = k }
                }
                if entries.first is String { try entry(entries) } else { try entries.forEach(entry) }
            }
            var arguments = positional
            for (key, value) in kwargs where key != "name" {
                var tensor: [TensorRef] = []
                collectHistories(value, into: &tensor)
                if tensor.isEmpty, node is [Any], let list = value as? [Any], list.count == 3, list[0] is String, let r = ref(list) {
                    tensor = [r]
                }
                if tensor.count == 1 {
                    arguments[key] = .tensor(found.count)
                    found.append(tensor[0])
                } else {
                    arguments[key] = .value(value)
                }
            }
            return (found, arguments)
        }
    }

    private static func collectHistories(_ any: Any, into found: inout [TensorRef]) {
        if let dict = any as? [String: Any] {
            if dict["class_name"] as? String == "__keras_tensor__", let config = dict["config"] as? [String: Any],
               let r = ref(config["keras_history"] as Any) {
                found.append(r)
            }
        } else if let list = any as? [Any] {
            for item in list { collectHistories(item, into: &found) }
        }
    }

    private static func ref(_ any: Any) -> TensorRef? {
        guard let list = any as? [Any], list.count >= 3, let name = list[0] as? String,
              let node = (list[1] as? NSNumber)?.intValue, let tensor = (list[2] as? NSNumber)?.intValue else { return nil }
        return TensorRef(layer: name, node: node, tensor: tensor)
    }

    /// `[[name, node, tensor], …]`, or Keras 3's bare `[name, node, tensor]` for one tensor.
    private static func refs(_ any: Any?, what: String, source: String) throws -> [TensorRef] {
        if let single = ref(any as Any), ((any as? [Any])?.first is String) { return [single] }
        guard let list = any as? [Any] else { throw ModelError("\(source): the model config has no \(what)") }
        return try list.map {
            guard let r = ref($0) else { throw ModelError("\(source): malformed entry in \(what)") }
            return r
        }
    }
}
