import Foundation
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

    /// ReLU(max_value, negative_slope, threshold) as Relu, Clip, LeakyRelu or ThresholdedRelu.
    static func relu(_ call: LayerCall) throws -> KTensor {
        let c = call.config
        let maxValue = c.optionalDouble("max_value"), slope = c.optionalDouble("negative_slope") ?? 0
        let threshold = c.optionalDouble("threshold") ?? 0
        if threshold != 0 {
            // Keras 2 (tf.greater) and Keras 3 (numpy.greater) both keep x only where x > threshold,
            // though their docs say `threshold <= x`: ONNX ThresholdedRelu's rule, equality included.
            guard maxValue == nil, slope == 0 else {
                throw call.error("threshold \(threshold) together with max_value or negative_slope is not supported")
            }
            return try unary(call, .thresholdedRelu, [Attribute("alpha", .float(Float(threshold)))])
        }
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
            // Keras's own default (the last axis), not ONNX's, which is 1 before opset 13.
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
        case "hard_silu", "hard_swish":
            // Keras 3's x · relu6(x + 3) / 6 (MobileNetV3): ONNX HardSwish.
            return one(.hardSwish)
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

// MARK: Writing

extension ActivationLayers {
    static let exporters: [OpKind: KerasNodeExporter] = [
        .relu: exportActivation, .sigmoid: exportActivation, .tanh: exportActivation, .selu: exportActivation,
        .softplus: exportActivation, .softsign: exportActivation, .exp: exportActivation, .gelu: exportActivation,
        .clip: exportActivation, .elu: exportActivation, .leakyRelu: exportLeakyRelu, .softmax: exportSoftmax,
        .pRelu: exportPRelu, .hardSigmoid: exportHardSigmoid, .thresholdedRelu: exportThresholdedRelu,
        .hardSwish: exportHardSwish,
    ]

    /// HardSwish → x · clip(x / 6 + 1/2, 0, 1) as Rescaling, ReLU(max_value 1) and Multiply: tf_keras
    /// has no hard_swish activation, and these load alike in both Keras versions.
    static func exportHardSwish(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        let scaled = call.exporter.addLayer("Rescaling", name: "\(call.name)_scale", inputs: [x], outputShape: x.shape, layout: x.layout,
                                            config: ["scale": KerasModelPlan.decimal(1.0 / 6), "offset": 0.5])
        let gate = call.exporter.addLayer("ReLU", name: "\(call.name)_gate", inputs: [scaled], outputShape: x.shape, layout: x.layout,
                                          config: ["max_value": 1.0, "negative_slope": 0.0, "threshold": 0.0])
        call.bind(call.exporter.addLayer("Multiply", name: call.name, inputs: [x, gate], outputShape: x.shape, layout: x.layout))
    }

    /// ThresholdedRelu(α) → ReLU(threshold α): both Keras versions keep x where x > threshold, as ONNX does.
    static func exportThresholdedRelu(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        let alpha = KerasModelPlan.decimal(ThresholdedReluAttributes(call.node).alpha)
        call.bind(call.exporter.addLayer("ReLU", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                         config: ["max_value": NSNull(), "negative_slope": 0.0, "threshold": alpha]))
    }

    /// HardSigmoid(α, β) = clip(αx + β, 0, 1) as Rescaling then ReLU(max_value 1): Keras 2 and 3 give
    /// the `hard_sigmoid` activation different slopes, so the name alone would not load alike in both.
    static func exportHardSigmoid(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        let attributes = HardSigmoidAttributes(call.node)
        let alpha = KerasModelPlan.decimal(attributes.alpha), beta = KerasModelPlan.decimal(attributes.beta)
        let scaled = call.exporter.addLayer("Rescaling", name: "\(call.name)_scale", inputs: [x], outputShape: x.shape, layout: x.layout,
                                            config: ["scale": alpha, "offset": beta])
        call.bind(call.exporter.addLayer("ReLU", name: call.name, inputs: [scaled], outputShape: x.shape, layout: x.layout,
                                         config: ["max_value": 1.0, "negative_slope": 0.0, "threshold": 0.0]))
    }

    /// Exact GELU written out in ONNX operators, x · ½ · (1 + erf(x / √2)) in the order the reader
    /// or PyTorch writes it, starting at the Mul by 1/√2 or Div by √2. Returns the nodes it spans
    /// (excluding `call`'s) and the final output, or nil when the chain is something else.
    static func geluChain(_ call: KerasExportCall, x: String) -> (nodes: [Int], output: String)? {
        let e = call.exporter
        func sole(_ value: String) -> (Int, Node)? {
            guard !e.graph.outputs.contains(where: { $0.name == value }), let r = e.consumers[value], r.count == 1 else { return nil }
            return (r[0], e.graph.nodes[r[0]])
        }
        func other(_ node: Node, _ value: String) -> String? { node.inputs.count == 2 ? node.inputs.first { $0 != value } : nil }
        func scalar(_ name: String?) -> Float? {
            name.flatMap { e.constant($0) }.flatMap { $0.elementCount == 1 ? try? $0.floats().first : nil }
        }
        guard let (ei, erf) = sole(call.output), erf.kind == .erf, let (ai, add) = sole(erf.outputs[0]), add.kind == .add,
              let one = scalar(other(add, erf.outputs[0])), one == 1 else { return nil }
        var nodes = [ei, ai], value = add.outputs[0], sawHalf = false, sawX = false
        while !(sawHalf && sawX) {
            guard let (mi, mul) = sole(value), mul.kind == .mul, let o = other(mul, value) else { return nil }
            if o == x && !sawX { sawX = true } else if let h = scalar(o), abs(h - 0.5) < 1e-7, !sawHalf { sawHalf = true } else { return nil }
            nodes.append(mi)
            value = mul.outputs[0]
        }
        return (nodes, value)
    }

    /// The Keras `activation` name that computes exactly what `node` computes, or nil.
    static func kerasName(of node: Node, exporter: KerasExporter) -> String? {
        switch node.kind {
        case .relu: return "relu"
        case .sigmoid: return "sigmoid"
        case .tanh: return "tanh"
        case .selu where node[attribute: "alpha"] == nil && node[attribute: "gamma"] == nil: return "selu"
        case .softplus: return "softplus"
        case .softsign: return "softsign"
        case .exp: return "exponential"
        case .elu where EluAttributes(node).alpha == 1: return "elu"
        case .gelu where GeluAttributes(node).approximate == GeluAttributes.defaultApproximate: return "gelu"
        case .clip:
            let (lo, hi) = clipBounds(node, exporter: exporter)
            return lo == 0 && hi == 6 ? "relu6" : nil
        // Axis 1 is the channels of a Conv's (channels-first) output and the last axis of a Dense's:
        // Keras's softmax activation, which the reader split off as `<layer>/softmax`.
        case .softmax where node.int("axis", default: -1) == 1: return "softmax"
        default: return nil
        }
    }

    /// Clip's bounds from inputs (opset ≥ 11) or attributes.
    static func clipBounds(_ node: Node, exporter: KerasExporter) -> (Float?, Float?) {
        func input(_ i: Int) -> Float? {
            node.input(i).flatMap { exporter.constant($0) }.flatMap { try? $0.floats() }.flatMap(\.first)
        }
        return (input(1) ?? node[attribute: "min"]?.float, input(2) ?? node[attribute: "max"]?.float)
    }

    /// Element-wise activations → Activation(name); Clip(0, m) → ReLU(max_value m).
    static func exportActivation(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        if call.node.kind == .sigmoid, deferToSwish(call) {
            // Marked so the Mul knows; bound so the Mul is not skipped as unmapped.
            call.exporter.absorbed.insert(call.index)
            call.bind(x)
            return
        }
        // A standalone Clip(0, max) is a ReLU layer (as Keras files hold ReLU(max_value=6)), not Activation("relu6").
        if call.node.kind != .clip, let name = kerasName(of: call.node, exporter: call.exporter) {
            call.bind(call.exporter.addLayer("Activation", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                             config: ["activation": name]))
            return
        }
        switch call.node.kind {
        case .clip:
            let (lo, hi) = clipBounds(call.node, exporter: call.exporter)
            guard lo == 0, let hi else { throw ModelError("only Clip(0, max) maps to ReLU(max_value)") }
            call.bind(call.exporter.addLayer("ReLU", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                             config: ["max_value": Double(hi), "negative_slope": 0.0, "threshold": 0.0]))
        case .elu:
            let alpha = KerasModelPlan.decimal(EluAttributes(call.node).alpha)
            call.bind(call.exporter.addLayer("ELU", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                             config: ["alpha": alpha]))
        default:
            throw ModelError("these attributes have no Keras activation")
        }
    }

    /// Sigmoid(x) read only by Mul(x, ·) is swish; the Mul writes it.
    private static func deferToSwish(_ call: KerasExportCall) -> Bool {
        guard let (_, mul) = call.soleConsumer(), mul.kind == .mul, mul.inputs.count == 2,
              Set(mul.inputs) == Set([call.output, call.node.inputs[0]]) else { return false }
        return true
    }

    static func exportLeakyRelu(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        let alpha = KerasModelPlan.decimal(LeakyReluAttributes(call.node).alpha)
        call.bind(call.exporter.addLayer("LeakyReLU", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                         config: ["alpha": alpha], keras3: ["negative_slope": alpha]))
    }

    /// Softmax along the channels (or the features of a 2-D tensor) → Softmax(axis); a flattened
    /// tensor's order does not matter to a softmax over all its features.
    static func exportSoftmax(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        guard let axis = call.node.axis(opset: call.exporter.opset) else { throw ModelError("Softmax has no axis") }
        let a = axis < 0 ? axis + x.rank : axis
        let kerasAxis: Int
        switch x.layout {
        case .same, .flattened:
            guard a == x.rank - 1 || (x.rank == 2 && a == 1) else { throw ModelError("softmax axis \(axis) is not supported here") }
            kerasAxis = -1
        case .channelsFirst:
            guard a >= 1, a < x.rank else { throw ModelError("softmax axis \(axis) is out of range") }
            kerasAxis = a == 1 ? -1 : a - 1
        }
        call.bind(call.exporter.addLayer("Softmax", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                         config: ["axis": kerasAxis]))
    }

    /// PRelu with a per-channel (or full) slope → PReLU; slope axes of size 1 are Keras's shared axes.
    static func exportPRelu(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        let slope = try call.requireConstant(1, "the slope")
        var values = try slope.floats()
        var dims: [Int]
        let r = x.rank - 1
        var irDims = slope.dims
        while irDims.count < r { irDims.insert(1, at: 0) }
        guard irDims.count == r else { throw ModelError("slope \(slope.dims) does not fit input rank \(x.rank)") }
        if x.layout == .channelsFirst && r >= 2 {
            let perm = Array(1..<r) + [0]
            values = permuted(values, dims: irDims, perm: perm)
            dims = perm.map { irDims[$0] }
        } else if case .flattened = x.layout {
            throw ModelError("a slope over flattened channels-first features is not supported")
        } else {
            dims = irDims
        }
        var shared: [Int] = []
        for (i, d) in dims.enumerated() where d == 1 && x.shape[i] != 1 { shared.append(i + 1) }
        let full = x.shape.enumerated().map { i, d in shared.contains(i + 1) ? 1 : d }
        guard full.allSatisfy({ $0 != nil }) else { throw ModelError("PReLU needs known sizes") }
        let fullDims = full.map { $0! }
        guard fullDims.reduce(1, *) == values.count || values.count == 1 else { throw ModelError("slope \(slope.dims) does not broadcast") }
        if values.count == 1 && fullDims.reduce(1, *) != 1 { values = [Float](repeating: values[0], count: fullDims.reduce(1, *)) }
        call.bind(call.exporter.addLayer("PReLU", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                         config: ["shared_axes": shared.isEmpty ? NSNull() as Any : shared as Any],
                                         weights: [KerasWeight(name: "alpha", dims: fullDims, values: values)]))
    }
}
