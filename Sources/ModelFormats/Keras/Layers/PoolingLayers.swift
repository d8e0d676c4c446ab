import ModelIR

/// MaxPooling2D, AveragePooling2D (same/valid), GlobalAveragePooling2D, GlobalMaxPooling2D.
enum PoolingLayers {
    static let mappings: [String: LayerMapping] = [
        "MaxPooling2D": .noWeights { try pool($0, .maxPool) },
        "AveragePooling2D": .noWeights { try pool($0, .averagePool) },
        "MaxPooling1D": .noWeights { try pool($0, .maxPool, rank: 1) },
        "AveragePooling1D": .noWeights { try pool($0, .averagePool, rank: 1) },
        "GlobalAveragePooling2D": .noWeights { try global($0, .globalAveragePool) },
        "GlobalMaxPooling2D": .noWeights { try global($0, .globalMaxPool) },
        "GlobalAveragePooling1D": .noWeights { try global($0, .globalAveragePool) },
        "GlobalMaxPooling1D": .noWeights { try global($0, .globalMaxPool) },
    ]

    static func pool(_ call: LayerCall, _ op: OpKind, rank: Int = 2) throws -> KTensor {
        let c = call.config, x = try call.single()
        guard x.rank == rank + 2 else { throw call.error("expects a \(rank + 2)-D input, got rank \(x.rank)") }
        try c.requireChannelsLast()
        let size = try c.ints("pool_size", count: rank)
        // Keras's strides default to the pool size.
        let strides = c.has("strides") ? try c.ints("strides", count: rank) : size
        let window = ConvolutionLayers.Window(kernel: size, strides: strides, dilations: Array(repeating: 1, count: rank),
                                              padding: try c.string("padding", default: "valid").lowercased())
        let (pads, spatial) = try window.geometry(x.spatial, layer: call.layer.name)
        var attributes = [window.attributes[0], window.attributes[1]] + pads
        // TensorFlow's 'same' average leaves the padding out of the count, which is ONNX's default;
        // said explicitly so no reader has to remember it.
        if op == .averagePool { attributes.append(Attribute("count_include_pad", .int(0))) }
        let out = call.builder.add(op, name: call.name, inputs: [x.name], output: call.output, attributes)
        return KTensor(name: out, shape: spatial + [x.channels])
    }

    /// Global pooling keeps (N, C, 1, 1) in ONNX; Keras drops the spatial axes unless keepdims.
    static func global(_ call: LayerCall, _ op: OpKind) throws -> KTensor {
        let x = try call.single()
        guard x.rank >= 3 else { throw call.error("expects a 3-D or 4-D input") }
        try call.config.requireChannelsLast()
        let keep = call.config.bool("keepdims", default: false)
        let ones = [Int?](repeating: 1, count: x.rank - 2)
        if keep {
            let out = call.builder.add(op, name: call.name, inputs: [x.name], output: call.output)
            return KTensor(name: out, shape: ones + [x.channels])
        }
        let pooled = call.builder.add(op, name: call.name, inputs: [x.name])
        let out = call.builder.add(.flatten, name: "\(call.name)/squeeze", inputs: [pooled], output: call.output,
                                   [Attribute("axis", .int(1))])
        return KTensor(name: out, shape: [x.channels])
    }
}

// MARK: Writing

extension PoolingLayers {
    static let exporters: [OpKind: KerasNodeExporter] = [
        .maxPool: { try exportPool($0, "MaxPooling") },
        .averagePool: { try exportPool($0, "AveragePooling") },
        .globalAveragePool: { try exportGlobal($0, "GlobalAveragePooling") },
        .globalMaxPool: { try exportGlobal($0, "GlobalMaxPooling") },
    ]

    /// Pooling whose pads are 'valid' or exactly Keras's 'same' (padding a max or an average with
    /// zeros would change it, so other pads have no Keras equivalent).
    static func exportPool(_ call: KerasExportCall, _ base: String) throws {
        let node = call.node, x = try call.channelsFirstInput(), window = try WindowAttributes(node)
        guard let kernel = window.kernelShape, kernel.count == x.rank - 2, kernel.count <= 2 else {
            throw ModelError("needs a 1-D or 2-D kernel_shape")
        }
        let n = kernel.count
        let strides = window.strides(rank: n), dilations = window.dilations(rank: n)
        guard dilations.allSatisfy({ $0 == 1 }) else { throw ModelError("dilated pooling has no Keras equivalent") }
        guard !window.ceilMode else { throw ModelError("ceil_mode 1 has no Keras equivalent") }
        let pads = try KerasLayoutMath.pads(node, input: x.spatial, kernel: kernel, strides: strides, dilations: dilations)
        guard let padding = KerasLayoutMath.padding(pads: pads, input: x.spatial, kernel: kernel, strides: strides, dilations: dilations) else {
            throw ModelError("pads \(pads) are neither Keras's 'valid' nor 'same'")
        }
        if node.kind == .averagePool && padding == "same" && window.countIncludePad {
            throw ModelError("count_include_pad 1 differs from Keras's 'same' average")
        }
        let spatial = (0..<n).map {
            KerasLayoutMath.outputSize(x.spatial[$0], kernel: kernel[$0], stride: strides[$0], dilation: 1, padBegin: pads[$0], padEnd: pads[n + $0])
        }
        let y = call.exporter.addLayer("\(base)\(n)D", name: call.name, inputs: [x], outputShape: spatial + [x.channels],
                                       layout: .channelsFirst,
                                       config: ["pool_size": kernel, "strides": strides, "padding": padding, "data_format": "channels_last"])
        call.bind(y)
    }

    /// Global pooling keeps the 1×1 axes (keepdims) unless its only reader flattens them away, in
    /// which case that Flatten/Reshape is folded in (Keras's default form).
    static func exportGlobal(_ call: KerasExportCall, _ base: String) throws {
        let x = try call.channelsFirstInput()
        let n = x.rank - 2
        guard n == 1 || n == 2 else { throw ModelError("expects a 3-D or 4-D input") }
        var flatten: (index: Int, node: Node)?
        if let next = call.soleConsumer(), next.node.kind == .flatten || next.node.kind == .reshape,
           let out = call.irShape(next.node.outputs[0]), out.count == 2,
           next.node.kind == .reshape || next.node.axis(opset: call.exporter.opset) == 1 {
            flatten = next
        }
        let keep = flatten == nil
        let shape: [Int?] = keep ? [Int?](repeating: 1, count: n) + [x.channels] : [x.channels]
        let y = call.exporter.addLayer("\(base)\(n)D", name: call.name, inputs: [x], outputShape: shape,
                                       layout: keep ? .channelsFirst : .same,
                                       config: ["data_format": "channels_last", "keepdims": keep])
        call.bind(y)
        if let flatten {
            call.exporter.absorbed.insert(flatten.index)
            call.exporter.bind(flatten.node.outputs[0], y)
        }
    }
}
