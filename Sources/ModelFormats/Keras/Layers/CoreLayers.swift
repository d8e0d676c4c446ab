import ModelIR

/// Dense, Flatten, Reshape, the inference-time identities, ZeroPadding2D, UpSampling2D, Rescaling.
enum CoreLayers {
    static let mappings: [String: LayerMapping] = [
        "Dense": LayerMapping(weightNames: ConvolutionLayers.kernelAndBias, map: dense),
        "Flatten": .noWeights(flatten),
        "Reshape": .noWeights(reshape),
        "Dropout": .noWeights(identity),
        "SpatialDropout2D": .noWeights(identity),
        "GaussianNoise": .noWeights(identity),
        "GaussianDropout": .noWeights(identity),
        "ActivityRegularization": .noWeights(identity),
        "ZeroPadding2D": .noWeights(zeroPadding),
        "UpSampling2D": .noWeights(upSampling),
        "Rescaling": .noWeights(rescaling),
    ]

    /// Layers that do nothing at inference keep a named Identity, so the Keras name stays visible.
    static func identity(_ call: LayerCall) throws -> KTensor {
        var x = try call.single()
        x.name = call.builder.add(.identity, name: call.name, inputs: [x.name], output: call.output)
        return x
    }

    /// Gemm with weight (out, in). After a Flatten of a conv output the rows of Keras's kernel are in
    /// (h, w, c) order while the IR flattened (c, h, w): the rows are permuted to match. On a 4-D
    /// input Dense acts on the channels, which is a 1×1 Conv.
    static func dense(_ call: LayerCall) throws -> KTensor {
        let c = call.config, x = try call.single()
        guard let inFeatures = x.channels else { throw call.error("expects an input with a known last dimension") }
        let units = try c.int("units")
        let kernel = try call.weight("kernel", [inFeatures, units])
        let bias = c.bool("use_bias", default: true) ? try call.weight("bias", [units]).values : nil
        if x.rank == 4 {
            let w = ConvolutionLayers.Window(kernel: [1, 1], strides: [1, 1], dilations: [1, 1], padding: "valid")
            return try ConvolutionLayers.emitConv(call, input: x, window: w, weight: permuted(kernel.values, dims: kernel.dims, perm: [1, 0]),
                                                  weightDims: [units, inFeatures, 1, 1], bias: bias, group: 1,
                                                  outChannels: units, name: call.name, last: true)
        }
        guard x.rank == 2 else { throw call.error("Dense on a rank-\(x.rank) input is not supported") }
        var rows = kernel.values
        if let from = x.flattenedFrom {
            // IR feature (c, s…) ← Keras row (s…, c).
            let order = permuted(Array(0..<inFeatures).map(Float.init), dims: from, perm: [from.count - 1] + Array(0..<(from.count - 1)))
            rows = [Float](repeating: 0, count: kernel.values.count)
            for (irRow, kerasRow) in order.enumerated() {
                let k = Int(kerasRow)
                for u in 0..<units { rows[irRow * units + u] = kernel.values[k * units + u] }
            }
        }
        let b = call.builder
        var inputs = [x.name, b.constant("\(call.name).weight", permuted(rows, dims: [inFeatures, units], perm: [1, 0]), dims: [units, inFeatures])]
        if let bias { inputs.append(b.constant("\(call.name).bias", bias, dims: [units])) }
        let activation = try c.string("activation", default: "linear")
        let out = b.add(.gemm, name: call.name, inputs: inputs, output: activation == "linear" ? call.output : nil,
                        [Attribute("transB", .int(1))])
        let result = KTensor(name: out, shape: [units])
        return activation == "linear" ? result : try ActivationLayers.emit(activation, call, input: result, output: call.output)
    }

    /// ONNX Flatten of the channels-first tensor; the order difference is settled by the consumer.
    static func flatten(_ call: LayerCall) throws -> KTensor {
        let x = try call.single()
        if x.rank <= 2 { return try identity(call) }
        let fixed = x.shape.compactMap { $0 }
        guard fixed.count == x.shape.count else { throw call.error("Flatten needs known sizes, got \(x.shape)") }
        let out = call.builder.add(.flatten, name: call.name, inputs: [x.name], output: call.output, [Attribute("axis", .int(1))])
        return KTensor(name: out, shape: [fixed.reduce(1, *)], flattenedFrom: fixed)
    }

    /// Reshape in Keras's channels-last order, moving to and from channels-first around it.
    static func reshape(_ call: LayerCall) throws -> KTensor {
        let b = call.builder
        var x = b.kerasOrder(try call.single(), for: call.name)
        guard let target = call.config.shape("target_shape"), target.allSatisfy({ $0 != nil }) else {
            throw call.error("target_shape must be a list of integers")
        }
        var dims = target.map { $0! }
        if let minus = dims.firstIndex(of: -1), let total = x.shape.reduce(Optional(1), { a, d in a.flatMap { a in d.map { a * $0 } } }) {
            dims[minus] = total / max(dims.filter { $0 != -1 }.reduce(1, *), 1)
        }
        if x.rank >= 3 {
            x.name = b.add(.transpose, name: "\(call.name)/to_channels_last", inputs: [x.name],
                           [Attribute("perm", .ints(KerasGraphBuilder.toChannelsLast(rank: x.rank)))])
        }
        let shape = b.int64Constant("\(call.name)/shape", [0] + dims.map(Int64.init))
        let last = dims.count + 1 >= 3
        var out = b.add(.reshape, name: call.name, inputs: [x.name, shape], output: last ? nil : call.output)
        if last {
            out = b.add(.transpose, name: "\(call.name)/to_channels_first", inputs: [out], output: call.output,
                        [Attribute("perm", .ints(KerasGraphBuilder.toChannelsFirst(rank: dims.count + 1)))])
        }
        return KTensor(name: out, shape: dims.map { $0 })
    }

    /// padding: n, (h, w) or ((top, bottom), (left, right)).
    static func zeroPadding(_ call: LayerCall) throws -> KTensor {
        let x = try call.single()
        guard x.rank == 4 else { throw call.error("expects a 4-D input") }
        try call.config.requireChannelsLast()
        var p: [Int]  // top, bottom, left, right
        if let pairs = call.config.values["padding"] as? [[Any]], pairs.count == 2 {
            p = pairs.flatMap { $0.compactMap { ($0 as? Int) } }
        } else {
            let hw = try call.config.ints("padding", count: 2)
            p = [hw[0], hw[0], hw[1], hw[1]]
        }
        guard p.count == 4 else { throw call.error("padding should be ((top, bottom), (left, right))") }
        let pads = call.builder.int64Constant("\(call.name)/pads", [0, 0, Int64(p[0]), Int64(p[2]), 0, 0, Int64(p[1]), Int64(p[3])])
        let out = call.builder.add(.pad, name: call.name, inputs: [x.name, pads], output: call.output,
                                   [Attribute("mode", .string(Array("constant".utf8)))])
        return KTensor(name: out, shape: [x.shape[0].map { $0 + p[0] + p[1] }, x.shape[1].map { $0 + p[2] + p[3] }, x.channels])
    }

    /// Nearest (floor, asymmetric) or bilinear (half-pixel) Resize by integer factors.
    static func upSampling(_ call: LayerCall) throws -> KTensor {
        let x = try call.single()
        guard x.rank == 4 else { throw call.error("expects a 4-D input") }
        try call.config.requireChannelsLast()
        let size = try call.config.ints("size", count: 2, default: [2, 2])
        let mode = try call.config.string("interpolation", default: "nearest")
        var attributes = [Attribute("mode", .string(Array((mode == "bilinear" ? "linear" : mode).utf8)))]
        switch mode {
        case "nearest":
            attributes += [Attribute("coordinate_transformation_mode", .string(Array("asymmetric".utf8))),
                           Attribute("nearest_mode", .string(Array("floor".utf8)))]
        case "bilinear":
            attributes.append(Attribute("coordinate_transformation_mode", .string(Array("half_pixel".utf8))))
        default:
            throw call.error("interpolation '\(mode)' is not supported (nearest, bilinear)")
        }
        let scales = call.builder.constant("\(call.name)/scales", [1, 1, Float(size[0]), Float(size[1])], dims: [4])
        let out = call.builder.add(.resize, name: call.name, inputs: [x.name, "", scales], output: call.output, attributes)
        return KTensor(name: out, shape: [x.shape[0].map { $0 * size[0] }, x.shape[1].map { $0 * size[1] }, x.channels])
    }

    /// x · scale + offset, with scalar scale and offset.
    static func rescaling(_ call: LayerCall) throws -> KTensor {
        var x = try call.single()
        let scale = try call.config.double("scale"), offset = try call.config.double("offset", default: 0)
        let b = call.builder
        let s = b.constant("\(call.name)/scale", [Float(scale)], dims: [])
        let scaled = b.add(.mul, name: call.name, inputs: [x.name, s], output: offset == 0 ? call.output : nil)
        if offset == 0 {
            x.name = scaled
            return x
        }
        let o = b.constant("\(call.name)/offset", [Float(offset)], dims: [])
        x.name = b.add(.add, name: "\(call.name)/offset", inputs: [scaled, o], output: call.output)
        return x
    }
}
