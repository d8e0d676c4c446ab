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
            // A hostile config must not divide by zero or overflow below (found by Tools/fuzz.sh keras-config).
            for (key, values) in [("kernel size", kernel), ("strides", strides), ("dilation rate", dilations)]
            where !values.allSatisfy({ (1...Self.limit).contains($0) }) {
                throw ModelError("layer '\(layer)': \(key) \(values) must be between 1 and \(Self.limit)")
            }
            guard input.allSatisfy({ ($0 ?? 0) >= 0 && ($0 ?? 0) <= 1 << 40 }) else {
                throw ModelError("layer '\(layer)': input size \(input.map { $0.map(String.init) ?? "?" }) is out of range")
            }
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

        /// The largest kernel size, stride or dilation accepted.
        static let limit = 1 << 16

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

// MARK: Writing

extension ConvolutionLayers {
    static let exporters: [OpKind: KerasNodeExporter] = [
        .conv: exportConv,
    ]

    /// Conv → Conv2D / Conv1D, DepthwiseConv2D (group = C), SeparableConv2D (the reader's depthwise +
    /// pointwise pair), with a ZeroPadding2D/1D in front when the pads are neither 'valid' nor 'same'
    /// (nor, for Conv1D, 'causal').
    static func exportConv(_ call: KerasExportCall) throws {
        let node = call.node
        var x = try call.channelsFirstInput()
        let w = try call.requireConstant(1, "the weight")
        let rank = w.dims.count - 2
        guard rank == 1 || rank == 2, x.rank == rank + 2, let cin = x.channels else {
            throw ModelError("only 1-D and 2-D convolutions with known input channels are supported")
        }
        let kernel = w.dims.suffix(rank).map { $0 }
        let window = try WindowAttributes(node)
        let strides = window.strides(rank: rank), dilations = window.dilations(rank: rank)
        let group = ConvAttributes(node).group, cout = w.dims[0]
        let bias = try call.constant(2).map { try $0.floats() }
        if let bias, bias.count != cout { throw ModelError("bias has \(bias.count) values for \(cout) channels") }
        var pads = try KerasLayoutMath.pads(node, input: x.spatial, kernel: kernel, strides: strides, dilations: dilations)
        var padding = KerasLayoutMath.padding(pads: pads, input: x.spatial, kernel: kernel, strides: strides, dilations: dilations)
        if padding == nil, rank == 1, kernel[0] > 1, pads == [(kernel[0] - 1) * dilations[0], 0] {
            padding = "causal"  // Conv1D's own left-only padding (the reader's mapping of 'causal')
        }
        if padding == nil {
            x = try zeroPad(call, x, pads: pads, name: "\(call.name)_pad")
            pads = [Int](repeating: 0, count: 2 * rank)
            padding = "valid"
        }
        let spatial = (0..<rank).map {
            KerasLayoutMath.outputSize(x.spatial[$0], kernel: kernel[$0], stride: strides[$0], dilation: dilations[$0],
                                       padBegin: pads[$0], padEnd: pads[rank + $0])
        }
        let values = try w.floats()
        var config: [String: Any] = ["kernel_size": kernel, "strides": strides, "padding": padding!, "data_format": "channels_last",
                                     "dilation_rate": dilations, "use_bias": bias != nil]
        // (out, in/g, k…) → (k…, in/g, out)
        let toKeras = Array(2..<(rank + 2)) + [1, 0]
        if let separable = try exportSeparable(call, x: x, depthwise: w, config: config, spatial: spatial) {
            call.finish(separable.value, fused: separable.fused)
            return
        }
        let fused = call.fusableActivation()
        config["activation"] = fused?.name ?? "linear"
        let className: String
        var weights: [KerasWeight]
        if group == cin && group > 1 && cout % cin == 0 && rank == 2 {
            className = "DepthwiseConv2D"
            config["depth_multiplier"] = cout / cin
            weights = [depthwiseKernel(values, cin: cin, multiplier: cout / cin, kernel: kernel)]
        } else {
            guard group >= 1, cin % group == 0, w.dims[1] * group == cin else {
                throw ModelError("weight \(w.dims) does not fit \(cin) input channels in \(group) groups")
            }
            className = rank == 1 ? "Conv1D" : "Conv2D"
            config["filters"] = cout
            config["groups"] = group
            weights = [KerasWeight(name: "kernel", dims: toKeras.map { w.dims[$0] },
                                   values: permuted(values, dims: w.dims, perm: toKeras))]
        }
        if let bias { weights.append(KerasWeight(name: "bias", dims: [cout], values: bias)) }
        let y = call.exporter.addLayer(className, name: call.name, inputs: [x], outputShape: spatial + [cout], layout: .channelsFirst,
                                       config: config, weights: weights)
        call.finish(y, fused: fused)
    }

    /// IR (C·M, 1, kh, kw) with output channel c·M + m → Keras (kh, kw, C, M).
    static func depthwiseKernel(_ values: [Float], cin: Int, multiplier m: Int, kernel: [Int]) -> KerasWeight {
        let dims = [cin, m, kernel[0], kernel[1]]
        return KerasWeight(name: "depthwise_kernel", dims: [kernel[0], kernel[1], cin, m],
                           values: permuted(values, dims: dims, perm: [2, 3, 0, 1]))
    }

    /// The reader's SeparableConv2D: a bias-free depthwise Conv named `X/depthwise` whose only reader
    /// is a 1×1 group-1 Conv named `X`. Both nodes become one SeparableConv2D named X.
    private static func exportSeparable(_ call: KerasExportCall, x: KerasValue, depthwise w: Tensor, config: [String: Any],
                                        spatial: [Int?]) throws -> (value: KerasValue, fused: (name: String, output: String)?)? {
        guard call.name.hasSuffix("/depthwise"), w.dims.count == 4, let cin = x.channels,
              ConvAttributes(call.node).group == cin, call.node.input(2) == nil, w.dims[0] % cin == 0,
              let (pointIndex, point) = call.soleConsumer(), point.kind == .conv,
              point.name == String(call.name.dropLast("/depthwise".count)), ConvAttributes(point).group == 1,
              let pw = point.input(1).flatMap({ call.exporter.constant($0) }), pw.dims.count == 4, pw.dims[2] == 1, pw.dims[3] == 1,
              let pointWindow = try? WindowAttributes(point), pointWindow.strides(rank: 2) == [1, 1],
              pointWindow.pads(rank: 2).allSatisfy({ $0 == 0 })
        else { return nil }
        let pointCall = KerasExportCall(node: point, index: pointIndex, exporter: call.exporter)
        call.exporter.absorbed.insert(pointIndex)
        let m = w.dims[0] / cin, filters = pw.dims[0]
        var config = config
        let fused = pointCall.fusableActivation()
        config["activation"] = fused?.name ?? "linear"
        config["filters"] = filters
        config["depth_multiplier"] = m
        let bias = try pointCall.constant(2).map { try $0.floats() }
        config["use_bias"] = bias != nil
        var weights = [depthwiseKernel(try w.floats(), cin: cin, multiplier: m, kernel: Array(w.dims.suffix(2))),
                       KerasWeight(name: "pointwise_kernel", dims: [1, 1, cin * m, filters],
                                   values: permuted(try pw.floats(), dims: pw.dims, perm: [2, 3, 1, 0]))]
        if let bias { weights.append(KerasWeight(name: "bias", dims: [filters], values: bias)) }
        let y = call.exporter.addLayer("SeparableConv2D", name: point.name, inputs: [x], outputShape: spatial + [filters],
                                       layout: .channelsFirst, config: config, weights: weights)
        call.exporter.bind(point.outputs[0], y)
        return (y, fused)
    }

    /// A ZeroPadding2D (or 1D) in front of a layer whose pads Keras cannot express.
    static func zeroPad(_ call: KerasExportCall, _ x: KerasValue, pads: [Int], name: String) throws -> KerasValue {
        let n = pads.count / 2
        guard pads.allSatisfy({ $0 >= 0 }) else { throw ModelError("negative pads \(pads) are not supported") }
        let shape = (0..<n).map { i in x.spatial[i].map { $0 + pads[i] + pads[n + i] } } + [x.channels]
        let padding: Any = n == 1 ? [pads[0], pads[1]] : (0..<n).map { [pads[$0], pads[n + $0]] }
        return call.exporter.addLayer(n == 1 ? "ZeroPadding1D" : "ZeroPadding2D", name: name, inputs: [x], outputShape: shape,
                                      layout: .channelsFirst, config: n == 1 ? ["padding": padding] : ["padding": padding, "data_format": "channels_last"])
    }
}

extension KerasValue {
    var spatial: [Int?] { Array(shape.dropLast()) }
}
