import ModelIR

/// Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D: channels-last kernels become ONNX Conv weights.
enum ConvolutionLayers {
    static let mappings: [String: LayerMapping] = [
        "Conv1D": LayerMapping(weightNames: kernelAndBias, map: { try conv($0, spatialRank: 1) }),
        "Conv2D": LayerMapping(weightNames: kernelAndBias, map: { try conv($0, spatialRank: 2) }),
        "DepthwiseConv2D": LayerMapping(weightNames: { $0.bool("use_bias", default: true) ? ["depthwise_kernel", "bias"] : ["depthwise_kernel"] },
                                        map: depthwise),
        "SeparableConv2D": LayerMapping(weightNames: { c in
            ["depthwise_kernel", "pointwise_kernel"] + (c.bool("use_bias", default: true) ? ["bias"] : [])
        }, map: separable),
    ]

    static func kernelAndBias(_ c: LayerConfig) -> [String] { c.bool("use_bias", default: true) ? ["kernel", "bias"] : ["kernel"] }

    /// Geometry shared by convolutions and pooling.
    struct Window {
        var kernel: [Int]
        var strides: [Int]
        var dilations: [Int]
        var padding: String

        /// ONNX pads/auto_pad attributes and the output's spatial sizes. 'same' puts the odd pixel
        /// at the end, as TensorFlow does; 'causal' (Conv1D) pads only at the start.
        func geometry(_ input: [Int?], layer: String) throws -> (attributes: [Attribute], output: [Int?]) {
            let n = kernel.count
            let span = (0..<n).map { (kernel[$0] - 1) * dilations[$0] + 1 }
            switch padding {
            case "valid":
                let out = (0..<n).map { i in input[i].map { ($0 - span[i]) / strides[i] + 1 } }
                return ([Attribute("pads", .ints([Int64](repeating: 0, count: 2 * n)))], out)
            case "causal":
                let out = (0..<n).map { i in input[i].map { ($0 - 1) / strides[i] + 1 } }
                return ([Attribute("pads", .ints(span.map { Int64($0 - 1) } + [Int64](repeating: 0, count: n)))], out)
            case "same":
                let out = (0..<n).map { i in input[i].map { ($0 + strides[i] - 1) / strides[i] } }
                guard out.allSatisfy({ $0 != nil }) else { return ([Attribute("auto_pad", .string(Array("SAME_UPPER".utf8)))], out) }
                var begin: [Int64] = [], end: [Int64] = []
                for i in 0..<n {
                    let total = max((out[i]! - 1) * strides[i] + span[i] - input[i]!, 0)
                    begin.append(Int64(total / 2))
                    end.append(Int64(total - total / 2))
                }
                return ([Attribute("pads", .ints(begin + end))], out)
            default:
                throw ModelError("layer '\(layer)': padding '\(padding)' is not supported")
            }
        }

        var attributes: [Attribute] {
            [Attribute("kernel_shape", .ints(kernel.map(Int64.init))), Attribute("strides", .ints(strides.map(Int64.init))),
             Attribute("dilations", .ints(dilations.map(Int64.init)))]
        }
    }

    static func window(_ c: LayerConfig, rank: Int, kernelKey: String = "kernel_size") throws -> Window {
        try c.requireChannelsLast()
        return Window(kernel: try c.ints(kernelKey, count: rank), strides: try c.ints("strides", count: rank, default: Array(repeating: 1, count: rank)),
                      dilations: try c.ints("dilation_rate", count: rank, default: Array(repeating: 1, count: rank)),
                      padding: try c.string("padding", default: "valid").lowercased())
    }

    /// Emits a Conv, then the layer's fused activation if any.
    static func emitConv(_ call: LayerCall, input: KTensor, window: Window, weight: [Float], weightDims: [Int],
                         bias: [Float]?, group: Int, outChannels: Int, name: String, last: Bool) throws -> KTensor {
        let (pads, spatial) = try window.geometry(input.spatial, layer: call.layer.name)
        let b = call.builder
        var inputs = [input.name, b.constant("\(name).weight", weight, dims: weightDims)]
        if let bias { inputs.append(b.constant("\(name).bias", bias, dims: [outChannels])) }
        let activation = last ? try call.config.string("activation", default: "linear") : "linear"
        let fused = activation != "linear"
        let out = b.add(.conv, name: name, inputs: inputs, output: last && !fused ? call.output : nil,
                        window.attributes + pads + [Attribute("group", .int(Int64(group)))])
        var result = KTensor(name: out, shape: spatial + [outChannels])
        if fused { result = try ActivationLayers.emit(activation, call, input: result, output: call.output) }
        return result
    }

    static func conv(_ call: LayerCall, spatialRank: Int) throws -> KTensor {
        let c = call.config, x = try call.single()
        guard x.rank == spatialRank + 2, let cin = x.channels else {
            throw call.error("expects a \(spatialRank + 2)-D input with known channels, got \(x.shape)")
        }
        let w = try window(c, rank: spatialRank)
        let filters = try c.int("filters"), groups = try c.int("groups", default: 1)
        guard groups > 0, cin % groups == 0 else { throw call.error("groups \(groups) does not divide \(cin) input channels") }
        let kernel = try call.weight("kernel", w.kernel + [cin / groups, filters])
        let bias = c.bool("use_bias", default: true) ? try call.weight("bias", [filters]).values : nil
        // (k…, in, out) → (out, in, k…)
        let perm = [spatialRank + 1, spatialRank] + Array(0..<spatialRank)
        return try emitConv(call, input: x, window: w, weight: permuted(kernel.values, dims: kernel.dims, perm: perm),
                            weightDims: perm.map { kernel.dims[$0] }, bias: bias, group: groups, outChannels: filters,
                            name: call.name, last: true)
    }

    /// (kh, kw, C, M) → (C·M, 1, kh, kw) with group C: output channel c·M + m, as TensorFlow orders them.
    static func depthwiseWeight(_ k: WeightArray) -> (values: [Float], dims: [Int]) {
        let (kh, kw, cin, m) = (k.dims[0], k.dims[1], k.dims[2], k.dims[3])
        return (permuted(k.values, dims: k.dims, perm: [2, 3, 0, 1]), [cin * m, 1, kh, kw])
    }

    static func depthwise(_ call: LayerCall) throws -> KTensor {
        let c = call.config, x = try call.single()
        guard x.rank == 4, let cin = x.channels else { throw call.error("expects a 4-D input with known channels") }
        let w = try window(c, rank: 2)
        let m = try c.int("depth_multiplier", default: 1)
        let k = try call.weight("depthwise_kernel", w.kernel + [cin, m])
        let bias = c.bool("use_bias", default: true) ? try call.weight("bias", [cin * m]).values : nil
        let (values, dims) = depthwiseWeight(k)
        return try emitConv(call, input: x, window: w, weight: values, weightDims: dims, bias: bias, group: cin,
                            outChannels: cin * m, name: call.name, last: true)
    }

    /// A depthwise Conv (strides, dilation, padding) then a 1×1 pointwise Conv carrying the bias and activation.
    static func separable(_ call: LayerCall) throws -> KTensor {
        let c = call.config, x = try call.single()
        guard x.rank == 4, let cin = x.channels else { throw call.error("expects a 4-D input with known channels") }
        let w = try window(c, rank: 2)
        let m = try c.int("depth_multiplier", default: 1), filters = try c.int("filters")
        let dk = try call.weight("depthwise_kernel", w.kernel + [cin, m])
        let pk = try call.weight("pointwise_kernel", [1, 1, cin * m, filters])
        let bias = c.bool("use_bias", default: true) ? try call.weight("bias", [filters]).values : nil
        let (values, dims) = depthwiseWeight(dk)
        let mid = try emitConv(call, input: x, window: w, weight: values, weightDims: dims, bias: nil, group: cin,
                               outChannels: cin * m, name: "\(call.name)/depthwise", last: false)
        let pointwise = Window(kernel: [1, 1], strides: [1, 1], dilations: [1, 1], padding: "valid")
        return try emitConv(call, input: mid, window: pointwise, weight: permuted(pk.values, dims: pk.dims, perm: [3, 2, 0, 1]),
                            weightDims: [filters, cin * m, 1, 1], bias: bias, group: 1, outChannels: filters,
                            name: call.name, last: true)
    }
}
