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
