import ModelIR

/// Activation (by name), ReLU, LeakyReLU, PReLU, ELU, Softmax, and the fused `activation` of
/// Conv/Dense layers.
enum ActivationLayers {
    static let mappings: [String: LayerMapping] = [
        "Activation": .noWeights { call in
            try emit(try call.config.string("activation"), call, input: try call.single(), output: call.output, nodeName: call.name)
        },
        "ReLU": .noWeights(relu),
        "LeakyReLU": .noWeights { call in
            let slope = call.config.optionalDouble("negative_slope") ?? call.config.optionalDouble("alpha") ?? 0.3
            return try unary(call, .leakyRelu, [Attribute("alpha", .float(Float(slope)))])
        },
        "ELU": .noWeights { try unary($0, .elu, [Attribute("alpha", .float(Float(try $0.config.double("alpha", default: 1))))]) },
        "Softmax": .noWeights(softmaxLayer),
        "PReLU": LayerMapping(weightNames: { _ in ["alpha"] }, map: prelu),
    ]

    static func unary(_ call: LayerCall, _ op: OpKind, _ attributes: [Attribute] = []) throws -> KTensor {
        var x = try call.single()
        x.name = call.builder.add(op, name: call.name, inputs: [x.name], output: call.output, attributes)
        return x
    }

    /// ReLU(max_value, negative_slope, threshold) as Relu, Clip or LeakyRelu.
    static func relu(_ call: LayerCall) throws -> KTensor {
        let c = call.config
        let maxValue = c.optionalDouble("max_value"), slope = c.optionalDouble("negative_slope") ?? 0
        let threshold = c.optionalDouble("threshold") ?? 0
        guard threshold == 0 else { throw call.error("threshold \(threshold) is not supported") }
        switch (maxValue, slope) {
        case (nil, 0): return try unary(call, .relu)
        case (nil, _): return try unary(call, .leakyRelu, [Attribute("alpha", .float(Float(slope)))])
        case (let m?, 0):
            var x = try call.single()
            let b = call.builder
            let lo = b.constant("\(call.name)/min", [0], dims: []), hi = b.constant("\(call.name)/max", [Float(m)], dims: [])
            x.name = b.add(.clip, name: call.name, inputs: [x.name, lo, hi], output: call.output)
            return x
        default: throw call.error("max_value together with negative_slope is not supported")
        }
    }

    static func softmaxLayer(_ call: LayerCall) throws -> KTensor {
        let x = call.builder.kerasOrder(try call.single(), for: call.name)
        let axis: Int
        if let list = call.config.values["axis"] as? [Any], list.count == 1, let a = list[0] as? Int { axis = a } else {
            axis = try call.config.int("axis", default: -1)
        }
        return try softmax(call, input: x, axis: axis, output: call.output, nodeName: call.name)
    }

    static func softmax(_ call: LayerCall, input x: KTensor, axis: Int, output: String, nodeName: String) throws -> KTensor {
        guard let a = KerasGraphBuilder.irAxis(axis, rank: x.rank) else { throw call.error("softmax axis \(axis) is out of range") }
        var y = x
        y.name = call.builder.add(.softmax, name: nodeName, inputs: [x.name], output: output, [Attribute("axis", .int(Int64(a)))])
        y.flattenedFrom = nil
        return y
    }

    /// PReLU's alpha has the input's channels-last shape (with 1s on shared axes); moved to channels-first.
    static func prelu(_ call: LayerCall) throws -> KTensor {
        let x = try call.single()
        let alpha = try call.weight("alpha", x.shape.map { _ in nil })
        var values = alpha.values, dims = alpha.dims
        if dims.count >= 2 {
            let perm = [dims.count - 1] + Array(0..<(dims.count - 1))
            values = permuted(values, dims: dims, perm: perm)
            dims = perm.map { dims[$0] }
        }
        var y = call.builder.kerasOrder(x, for: call.name)
        let slope = call.builder.constant("\(call.name).alpha", values, dims: dims)
        y.name = call.builder.add(.pRelu, name: call.name, inputs: [y.name, slope], output: call.output)
        return y
    }

    /// Emits a named Keras activation on `input`; the node is called `<layer>/<activation>` unless named.
    static func emit(_ activation: String, _ call: LayerCall, input: KTensor, output: String, nodeName: String? = nil) throws -> KTensor {
        let b = call.builder
        let name = nodeName ?? "\(call.name)/\(activation)"
        var y = input
        func one(_ op: OpKind, _ attributes: [Attribute] = []) -> KTensor {
            y.name = b.add(op, name: name, inputs: [input.name], output: output, attributes)
            return y
        }
        switch activation {
        case "linear": return one(.identity)
        case "relu": return one(.relu)
        case "relu6":
            let lo = b.constant("\(name)/min", [0], dims: []), hi = b.constant("\(name)/max", [6], dims: [])
            y.name = b.add(.clip, name: name, inputs: [input.name, lo, hi], output: output)
            return y
        case "sigmoid": return one(.sigmoid)
        case "tanh": return one(.tanh)
        case "softplus": return one(.softplus)
        case "softsign": return one(.softsign)
        case "elu": return one(.elu, [Attribute("alpha", .float(1))])
        case "selu": return one(.selu)
        case "exponential": return one(.exp)
        case "leaky_relu": return one(.leakyRelu, [Attribute("alpha", .float(0.2))])
        case "hard_sigmoid":
            // Keras 2: 0.2·x + 0.5; Keras 3: relu6(x + 3) / 6.
            return one(.hardSigmoid, [Attribute("alpha", .float(call.isKeras3 ? 1.0 / 6 : 0.2)), Attribute("beta", .float(0.5))])
        case "softmax": return try softmax(call, input: b.kerasOrder(input, for: name), axis: -1, output: output, nodeName: name)
        case "swish", "silu":
            let s = b.add(.sigmoid, name: "\(name)/sigmoid", inputs: [input.name])
            y.name = b.add(.mul, name: name, inputs: [input.name, s], output: output)
            return y
        case "gelu":
            // Exact GELU, Keras's default: x · ½ · (1 + erf(x / √2)), in opset-17 operators.
            let r = b.constant("\(name)/inv_sqrt2", [Float(0.5.squareRoot())], dims: [])
            let one1 = b.constant("\(name)/one", [1], dims: []), half = b.constant("\(name)/half", [0.5], dims: [])
            let scaled = b.add(.mul, name: "\(name)/scale", inputs: [input.name, r])
            let e = b.add(.erf, name: "\(name)/erf", inputs: [scaled])
            let p = b.add(.add, name: "\(name)/plus_one", inputs: [e, one1])
            let h = b.add(.mul, name: "\(name)/half", inputs: [p, half])
            y.name = b.add(.mul, name: name, inputs: [input.name, h], output: output)
            return y
        default:
            throw call.error("activation '\(activation)' is not supported")
        }
    }
}
