import Foundation
import ModelIR

/// tf_keras's TF-op layers (`TFOpLambda`): a TensorFlow function applied to Keras tensors in a
/// functional model, saved by its API name (`__operators__.add` for `x + 3.0`, `math.multiply`,
/// `nn.relu6`…). The first operand is the call's input; the second is the `y` keyword argument, a
/// constant or another tensor. keras.applications' MobileNetV3 writes its hard sigmoid this way.
/// The writer never emits TFOpLambda: these read as plain ONNX operators, which it writes as
/// Rescaling, ReLU or the merging layers.
enum TFOpLayers {
    static let mappings: [String: LayerMapping] = [
        "TFOpLambda": LayerMapping(weightNames: { _ in [] }, map: map, unsupported: { config in
            let f = function(config)
            return binary[f] == nil && unary[f] == nil ? "tf.\(f) has no mapping" : nil
        }),
    ]

    /// Two-operand functions and the operator each is.
    static let binary: [String: OpKind] = [
        "__operators__.add": .add, "math.add": .add, "math.subtract": .sub, "math.multiply": .mul,
        "math.truediv": .div, "math.divide": .div, "math.maximum": .max, "math.minimum": .min,
    ]

    /// One-operand functions and the Keras activation each computes.
    static let unary: [String: String] = [
        "nn.relu": "relu", "nn.relu6": "relu6", "math.sigmoid": "sigmoid", "nn.sigmoid": "sigmoid",
        "math.tanh": "tanh", "nn.tanh": "tanh", "nn.silu": "swish", "nn.swish": "swish", "math.softplus": "softplus",
        "nn.softplus": "softplus", "nn.elu": "elu", "nn.selu": "selu", "math.exp": "exponential",
    ]

    /// The function's API name without the `tf.` prefix (the config's `function`, else the layer name).
    static func function(_ config: LayerConfig) -> String {
        let raw = (config.values["function"] as? String) ?? config.layer
        let name = raw.hasPrefix("tf.") ? String(raw.dropFirst(3)) : raw
        // A second use of one function is named `tf.math.multiply_1`; the config's `function` is not.
        if binary[name] == nil, unary[name] == nil, let cut = name.lastIndex(of: "_"),
           name[name.index(after: cut)...].allSatisfy(\.isNumber) {
            return String(name[..<cut])
        }
        return name
    }

    static func map(_ call: LayerCall) throws -> KTensor {
        let f = function(call.config)
        guard let x = call.inputs.first else { throw call.error("tf.\(f) has no tensor input") }
        if let activation = unary[f] {
            guard call.inputs.count == 1 else { throw call.error("tf.\(f) expects one tensor") }
            return try ActivationLayers.emit(activation, call, input: x, output: call.output, nodeName: call.name)
        }
        guard let op = binary[f] else { throw call.error("tf.\(f) has no mapping") }
        let b = call.builder
        var lhs = x, rhs: String
        switch call.arguments["y"] {
        case .tensor(let i)?:
            var y = call.inputs[i]
            if lhs.flattenedFrom != y.flattenedFrom {
                lhs = b.kerasOrder(lhs, for: call.name)
                y = b.kerasOrder(y, for: call.name)
            }
            guard y.rank == lhs.rank || y.rank == 1 else {
                throw call.error("tf.\(f) of tensors of ranks \(lhs.rank) and \(y.rank) is not supported")
            }
            rhs = y.name
        case .value(let v)?:
            guard let c = scalar(v) else { throw call.error("tf.\(f): only a scalar constant operand y is supported") }
            rhs = b.constant("\(call.name)/y", [c], dims: [])
        case nil:
            throw call.error("tf.\(f) has no operand y")
        }
        var y = lhs
        y.name = b.add(op, name: call.name, inputs: [lhs.name, rhs], output: call.output)
        return y
    }

    /// A number, or a list nested around exactly one number.
    static func scalar(_ any: Any) -> Float? {
        if let n = any as? NSNumber { return n.floatValue }
        if let list = any as? [Any], list.count == 1 { return scalar(list[0]) }
        return nil
    }
}
