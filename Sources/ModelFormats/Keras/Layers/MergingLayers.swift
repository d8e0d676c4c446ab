import ModelIR

/// Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate.
enum MergingLayers {
    static let mappings: [String: LayerMapping] = [
        "Add": .noWeights { try elementwise($0, .sum, pairwise: .add) },
        "Subtract": .noWeights { try elementwise($0, .sub, pairwise: .sub) },
        "Multiply": .noWeights { try elementwise($0, .mul, pairwise: .mul) },
        "Average": .noWeights { try elementwise($0, .mean, pairwise: .mean) },
        "Maximum": .noWeights { try elementwise($0, .max, pairwise: .max) },
        "Minimum": .noWeights { try elementwise($0, .min, pairwise: .min) },
        "Concatenate": .noWeights(concatenate),
        // Keras 3's ops layers for `x / c` (keras.src.ops.numpy); its Add, Subtract and Multiply
        // share the merging layers' class names and are told apart by their constant operand.
        "TrueDivide": .noWeights { try elementwise($0, .div, pairwise: .div) },
        "Divide": .noWeights { try elementwise($0, .div, pairwise: .div) },
    ]

    /// An ops layer's one tensor and scalar constant, in call order (Keras 3's `x + 3.0`), or nil.
    static func withConstant(_ call: LayerCall, _ op: OpKind) throws -> KTensor? {
        guard call.inputs.count == 1 else { return nil }
        let constants = call.arguments.filter { $0.key.hasPrefix("#") }
        guard constants.count == 1, let (key, argument) = constants.first, case .value(let v) = argument else { return nil }
        guard let c = TFOpLayers.scalar(v) else { throw call.error("only a scalar constant operand is supported") }
        var y = call.inputs[0]
        let k = call.builder.constant("\(call.name)/y", [c], dims: [])
        y.name = call.builder.add(op, name: call.name, inputs: key == "#0" ? [k, y.name] : [y.name, k], output: call.output)
        return y
    }

    /// Inputs flattened the same way may stay in the IR's order; otherwise all go to Keras's order.
    static func aligned(_ call: LayerCall) -> [KTensor] {
        let first = call.inputs.first?.flattenedFrom
        if call.inputs.allSatisfy({ $0.flattenedFrom == first }) { return call.inputs }
        return call.inputs.map { call.builder.kerasOrder($0, for: call.name) }
    }

    /// Two inputs use the binary operator (Add, Sub…), more use the variadic one (Sum, Mean…).
    static func elementwise(_ call: LayerCall, _ variadic: OpKind, pairwise: OpKind) throws -> KTensor {
        if let y = try withConstant(call, pairwise) { return y }
        let inputs = aligned(call)
        guard inputs.count >= 2 else { throw call.error("expects at least two inputs") }
        if variadic == .sub && inputs.count != 2 { throw call.error("Subtract expects exactly two inputs") }
        var y = inputs[0]
        y.name = call.builder.add(inputs.count == 2 ? pairwise : variadic, name: call.name, inputs: inputs.map(\.name),
                                  output: call.output)
        return y
    }

    static func concatenate(_ call: LayerCall) throws -> KTensor {
        let inputs = call.inputs.map { call.builder.kerasOrder($0, for: call.name) }
        guard let first = inputs.first, inputs.allSatisfy({ $0.rank == first.rank }) else {
            throw call.error("expects inputs of one rank")
        }
        let keras = try call.config.int("axis", default: -1)
        guard let axis = KerasGraphBuilder.irAxis(keras, rank: first.rank) else { throw call.error("axis \(keras) is out of range") }
        let k = keras < 0 ? keras + first.rank - 1 : keras - 1  // index into shape (no batch)
        // The batch axis (0) has no entry in the shape (a libFuzzer keras-config finding: it
        // indexed shape[-1]).
        guard first.shape.indices.contains(k) else { throw call.error("cannot concatenate along the batch axis") }
        var shape = first.shape
        var total: Int? = 0
        for t in inputs {
            guard let a = total, let b = t.shape[k] else { total = nil; continue }
            // Concatenations of concatenations double a size each time: refuse rather than overflow.
            let (sum, overflow) = a.addingReportingOverflow(b)
            guard !overflow else { throw call.error("concatenated size overflows") }
            total = sum
        }
        shape[k] = total
        let out = call.builder.add(.concat, name: call.name, inputs: inputs.map(\.name), output: call.output,
                                   [Attribute("axis", .int(Int64(axis)))])
        return KTensor(name: out, shape: shape)
    }
}

// MARK: Writing

extension MergingLayers {
    static let exporters: [OpKind: KerasNodeExporter] = [
        .add: { try exportElementwise($0, "Add") }, .sum: { try exportElementwise($0, "Add") },
        .sub: { try exportElementwise($0, "Subtract") }, .mul: { try exportElementwise($0, "Multiply") },
        .mean: { try exportElementwise($0, "Average") }, .max: { try exportElementwise($0, "Maximum") },
        .min: { try exportElementwise($0, "Minimum") }, .div: { try exportElementwise($0, "") },
        .concat: exportConcat,
    ]

    /// Tensors of one layout and shape → a merging layer; a tensor and a scalar constant →
    /// Rescaling; Mul(x, Sigmoid(x)) → Activation(swish).
    static func exportElementwise(_ call: KerasExportCall, _ className: String) throws {
        let node = call.node
        if node.inputs.contains(where: { call.exporter.constant($0) != nil }) { return try exportRescaling(call) }
        if let swish = try swish(call) { return call.bind(swish) }
        let inputs = try node.inputs.indices.map { try call.input($0) }
        guard !className.isEmpty, inputs.count >= 2 else { throw ModelError("has no Keras merging layer") }
        guard inputs.allSatisfy({ $0.layout == inputs[0].layout }), let shape = broadcastShape(inputs) else {
            throw ModelError("inputs of different layouts or of shapes that do not broadcast have no Keras merging layer")
        }
        if className == "Subtract" && inputs.count != 2 { throw ModelError("Subtract takes two inputs") }
        call.bind(call.exporter.addLayer(className, name: call.name, inputs: inputs, outputShape: shape, layout: inputs[0].layout))
    }

    /// The common shape of inputs of one rank whose sizes agree or are 1 (Keras's merging layers
    /// broadcast those, as the squeeze-and-excite Multiply of MobileNetV3 and EfficientNet needs);
    /// nil otherwise. A flattened layout must match exactly.
    static func broadcastShape(_ inputs: [KerasValue]) -> [Int?]? {
        let first = inputs[0]
        if case .flattened = first.layout { return inputs.allSatisfy { $0.shape == first.shape } ? first.shape : nil }
        guard inputs.allSatisfy({ $0.rank == first.rank }) else { return nil }
        var shape = first.shape
        for t in inputs.dropFirst() {
            for (i, d) in t.shape.enumerated() where d != shape[i] {
                if shape[i] == 1 { shape[i] = d } else if d != 1 { return nil }
            }
        }
        return shape
    }

    private static func swish(_ call: KerasExportCall) throws -> KerasValue? {
        let node = call.node
        guard node.kind == .mul, node.inputs.count == 2 else { return nil }
        for (s, x) in [(0, 1), (1, 0)] {
            guard let p = call.exporter.producers[node.inputs[s]] else { continue }
            let sig = call.exporter.graph.nodes[p]
            if sig.kind == .sigmoid, sig.inputs.first == node.inputs[x], call.exporter.absorbed.contains(p) {
                let v = try call.input(x)
                return call.exporter.addLayer("Activation", name: call.name, inputs: [v], outputShape: v.shape, layout: v.layout,
                                              config: ["activation": "swish"])
            }
        }
        return nil
    }

    /// x·scale + offset with scalar constants (Mul/Div then Add/Sub, as the reader writes Rescaling).
    private static func exportRescaling(_ call: KerasExportCall) throws {
        let node = call.node
        guard node.inputs.count == 2 else { throw ModelError("a constant operand needs exactly two inputs") }
        let constIndex = call.exporter.constant(node.inputs[1]) != nil ? 1 : 0
        guard let c = call.scalar(constIndex) else { throw ModelError("only a scalar constant operand maps to Rescaling") }
        let x = try call.input(1 - constIndex)
        let invSqrt2 = Float(0.5.squareRoot())
        if constIndex == 1, (node.kind == .mul && abs(c - invSqrt2) < 1e-6) || (node.kind == .div && abs(c - 1 / invSqrt2) < 1e-6),
           let (nodes, output) = ActivationLayers.geluChain(call, x: node.inputs[0]) {
            nodes.forEach { call.exporter.absorbed.insert($0) }
            call.exporter.bind(output, call.exporter.addLayer("Activation", name: call.name.hasSuffix("/scale") ? String(call.name.dropLast(6)) : call.name,
                                                              inputs: [x], outputShape: x.shape, layout: x.layout, config: ["activation": "gelu"]))
            return
        }
        var scale: Float = 1, offset: Float = 0
        switch node.kind {
        case .mul: scale = c
        case .div where constIndex == 1: scale = 1 / c
        case .add, .sum: offset = c
        case .sub: if constIndex == 1 { offset = -c } else { (scale, offset) = (-1, c) }
        default: throw ModelError("this constant operand has no Keras equivalent")
        }
        var outputs = [call.output]
        if offset == 0, let (i, next) = call.soleConsumer(), next.kind == .add || next.kind == .sub, next.inputs.count == 2,
           next.inputs[0] == call.output, let o = next.input(1).flatMap({ call.exporter.constant($0) }), o.elementCount == 1 {
            offset = try o.floats()[0] * (next.kind == .sub ? -1 : 1)
            call.exporter.absorbed.insert(i)
            outputs.append(next.outputs[0])
        }
        let y = call.exporter.addLayer("Rescaling", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                       config: ["scale": KerasModelPlan.decimal(scale), "offset": KerasModelPlan.decimal(offset)])
        for o in outputs { call.exporter.bind(o, y) }
    }

    /// Concat along the channels (axis 1 → -1) or another axis of one layout.
    static func exportConcat(_ call: KerasExportCall) throws {
        let inputs = try call.node.inputs.indices.map { try call.input($0) }
        guard let first = inputs.first, inputs.allSatisfy({ $0.layout == first.layout && $0.rank == first.rank }) else {
            throw ModelError("inputs of different layouts")
        }
        guard let axis = call.node.axis(opset: call.exporter.opset) else { throw ModelError("Concat has no axis") }
        let a = axis < 0 ? axis + first.rank : axis
        var k: Int  // index into the Keras shape (no batch)
        switch first.layout {
        case .flattened: throw ModelError("concatenating channels-first flattened tensors has no Keras equivalent")
        case .same: k = a - 1
        case .channelsFirst: k = a == 1 ? first.rank - 2 : a - 2
        }
        guard a >= 1, a < first.rank else { throw ModelError("axis \(axis) is not supported") }
        var shape = first.shape
        shape[k] = inputs.reduce(Optional(0)) { total, t in total.flatMap { s in t.shape[k].map { s + $0 } } }
        let kerasAxis = k == first.rank - 2 ? -1 : k + 1
        call.bind(call.exporter.addLayer("Concatenate", name: call.name, inputs: inputs, outputShape: shape, layout: first.layout,
                                         config: ["axis": kerasAxis]))
    }
}
