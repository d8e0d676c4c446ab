import Foundation
import ModelIR

/// Dense, Flatten, Reshape, Dropout, the inference-time identities, ZeroPadding1D/2D, UpSampling2D, Rescaling.
enum CoreLayers {
    static let mappings: [String: LayerMapping] = [
        "Dense": LayerMapping(weightNames: ConvolutionLayers.kernelAndBias, map: dense),
        "Flatten": .noWeights(flatten),
        "Reshape": .noWeights(reshape),
        "Dropout": .noWeights(dropout),
        "SpatialDropout2D": .noWeights(identity),
        "GaussianNoise": .noWeights(identity),
        "GaussianDropout": .noWeights(identity),
        "ActivityRegularization": .noWeights(identity),
        "ZeroPadding1D": .noWeights(zeroPadding1D),
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

    /// A Dropout node with Keras's rate, which fine-tuning applies (it is the identity at inference).
    /// With a noise_shape (one draw shared along some axes) ONNX has no equivalent: an Identity.
    static func dropout(_ call: LayerCall) throws -> KTensor {
        guard !call.config.has("noise_shape") else { return try identity(call) }
        var x = try call.single()
        let rate = call.builder.constant("\(call.name).ratio", [Float(try call.config.double("rate"))], dims: [])
        x.name = call.builder.add(.dropout, name: call.name, inputs: [x.name, rate], output: call.output)
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

    /// padding: n or (left, right) on the steps axis of a (steps, channels) tensor. The writer emits
    /// it in front of a Conv1D whose pads Keras cannot express otherwise.
    static func zeroPadding1D(_ call: LayerCall) throws -> KTensor {
        let x = try call.single()
        guard x.rank == 3 else { throw call.error("expects a 3-D input") }
        let p = try call.config.ints("padding", count: 2, default: [1, 1])
        guard p.allSatisfy({ $0 >= 0 }) else { throw call.error("padding \(p) is negative") }
        let pads = call.builder.int64Constant("\(call.name)/pads", [0, 0, Int64(p[0]), 0, 0, Int64(p[1])])
        let out = call.builder.add(.pad, name: call.name, inputs: [x.name, pads], output: call.output,
                                   [Attribute("mode", .string(Array("constant".utf8)))])
        return KTensor(name: out, shape: [x.shape[0].map { $0 + p[0] + p[1] }, x.channels])
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

// MARK: Writing

extension CoreLayers {
    static let exporters: [OpKind: KerasNodeExporter] = [
        .gemm: exportGemm,
        .matMul: exportMatMul,
        .flatten: exportFlatten,
        .reshape: exportReshape,
        .transpose: exportTranspose,
        .identity: { $0.bind(try $0.input(0)) },
        .dropout: exportDropout,
        .pad: exportPad,
        .resize: exportResize,
        .upsample: exportResize,
    ]

    /// Dropout → Dropout with the node's ratio (input 1 from opset 12, else the attribute; 0.5 by default).
    static func exportDropout(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        var rate = DropoutAttributes(call.node).ratio
        if call.node.inputs.count > 1, !call.node.inputs[1].isEmpty {
            guard let r = try call.constant(1)?.floats(), r.count == 1 else { throw ModelError("the ratio must be one constant value") }
            rate = r[0]
        }
        call.bind(call.exporter.addLayer("Dropout", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                         config: ["rate": KerasModelPlan.decimal(rate), "noise_shape": NSNull(), "seed": NSNull()]))
    }

    /// Gemm (alpha = beta = 1, no transA, constant B and C) → Dense.
    static func exportGemm(_ call: KerasExportCall) throws {
        let node = call.node
        let attributes = GemmAttributes(node)
        guard !attributes.transA, attributes.alpha == 1, attributes.beta == 1 else {
            throw ModelError("only alpha = beta = 1 without transA maps to Dense")
        }
        let w = try call.requireConstant(1, "B")
        guard w.dims.count == 2 else { throw ModelError("B must be 2-D") }
        let transB = attributes.transB
        let units = transB ? w.dims[0] : w.dims[1]
        let kernel = transB ? permuted(try w.floats(), dims: w.dims, perm: [1, 0]) : try w.floats()
        var bias: [Float]?
        if let c = call.constant(2) {
            guard c.elementCount == units || c.elementCount == 1 else { throw ModelError("C must be a vector of \(units)") }
            let v = try c.floats()
            bias = v.count == units ? v : [Float](repeating: v[0], count: units)
        } else if call.node.input(2) != nil {
            throw ModelError("C must be a constant")
        }
        try dense(call, kernel: kernel, inFeatures: transB ? w.dims[1] : w.dims[0], units: units, bias: bias, name: call.name)
    }

    /// MatMul by a constant matrix (and a following Add of a constant vector) → Dense.
    static func exportMatMul(_ call: KerasExportCall) throws {
        let w = try call.requireConstant(1, "the second operand")
        guard w.dims.count == 2, try call.input(0).rank == 2 else { throw ModelError("only a 2-D input times a constant matrix maps to Dense") }
        var bias: [Float]?
        if let (i, add) = call.soleConsumer(), add.kind == .add {
            let other = add.inputs.first { $0 != call.output }
            if let other, let c = call.exporter.constant(other), c.elementCount == w.dims[1], c.dims.count <= 2 {
                bias = try c.floats()
                call.exporter.absorbed.insert(i)
                try dense(call, kernel: try w.floats(), inFeatures: w.dims[0], units: w.dims[1], bias: bias, name: call.name,
                          alsoBind: add.outputs[0])
                return
            }
        }
        try dense(call, kernel: try w.floats(), inFeatures: w.dims[0], units: w.dims[1], bias: nil, name: call.name)
    }

    /// Dense with a Keras kernel (in, units) given in the IR's feature order: after a channels-first
    /// flatten its rows are moved to Keras's (spatial…, c) order.
    static func dense(_ call: KerasExportCall, kernel: [Float], inFeatures: Int, units: Int, bias: [Float]?, name: String,
                      alsoBind: String? = nil) throws {
        let x = try call.input(0)
        guard x.rank == 2, x.channels == nil || x.channels == inFeatures else {
            throw ModelError("expects a 2-D input of \(inFeatures) features, got \(x.shape)")
        }
        var rows = kernel
        var input = x
        if case .flattened(_, _, let from) = x.layout {
            // Keras row (s…, c) ← IR row (c, s…).
            let order = permuted(Array(0..<inFeatures).map(Float.init), dims: from, perm: Array(1..<from.count) + [0])
            rows = [Float](repeating: 0, count: kernel.count)
            for (kerasRow, irRow) in order.enumerated() {
                let r = Int(irRow)
                for u in 0..<units { rows[kerasRow * units + u] = kernel[r * units + u] }
            }
            input.layout = .same
        } else if x.layout != .same {
            throw ModelError("Dense needs a 2-D input")
        }
        let fused = call.fusableActivation()
        var weights = [KerasWeight(name: "kernel", dims: [inFeatures, units], values: rows)]
        if let bias { weights.append(KerasWeight(name: "bias", dims: [units], values: bias)) }
        let y = call.exporter.addLayer("Dense", name: name, inputs: [input], outputShape: [units], layout: .same,
                                       config: ["units": units, "activation": fused?.name ?? "linear", "use_bias": bias != nil],
                                       weights: weights)
        call.finish(y, fused: fused)
        if let alsoBind { call.exporter.bind(alsoBind, y) }
    }

    /// Flatten(axis 1): a Keras Flatten, whose feature order differs from the IR's after a
    /// channels-first tensor with more than one position (recorded in the layout for Dense).
    static func exportFlatten(_ call: KerasExportCall) throws {
        guard call.node.axis(opset: call.exporter.opset) == 1 else { throw ModelError("only axis 1 maps to Flatten") }
        try flatten(call)
    }

    static func flatten(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        if x.rank == 2 {
            call.bind(x)
            return
        }
        guard let sizes = Optional(x.shape.compactMap { $0 }), sizes.count == x.shape.count else {
            throw ModelError("Flatten needs known sizes, got \(x.shape)")
        }
        let total = sizes.reduce(1, *)
        var layout = KerasLayout.same
        if x.layout == .channelsFirst && total != sizes.last! {
            layout = .flattened(source: x.layer, sourceShape: x.shape, from: [sizes.last!] + sizes.dropLast())
        } else if case .flattened = x.layout {
            throw ModelError("cannot flatten a flattened tensor")
        }
        let y = call.exporter.addLayer("Flatten", name: call.name, inputs: [x], outputShape: [total], layout: layout,
                                       config: ["data_format": "channels_last"])
        call.bind(y)
    }

    /// Reshape to (N, features) is a Flatten (PyTorch's `x.view(x.size(0), -1)` included); the
    /// reader's un-flatten back to (N, C, H, W) returns to the tensor before the Flatten; a
    /// channels-last IR tensor reshapes as Keras's Reshape.
    static func exportReshape(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        guard let out = call.irShape(call.output), out.count >= 2, out.dropFirst().allSatisfy({ $0 != nil }) else {
            throw ModelError("the output shape is not known")
        }
        let target = out.dropFirst().map { $0! }
        let inTotal = x.shape.reduce(Optional(1)) { a, d in a.flatMap { a in d.map { a * $0 } } }
        if case .flattened(let source, let sourceShape, let from) = x.layout, target == from {
            call.bind(KerasValue(layer: source, shape: sourceShape, layout: .channelsFirst))
            return
        }
        if target.count == 1, inTotal == target[0] {
            try flatten(call)
            return
        }
        guard x.layout == .same else { throw ModelError("only a channels-last tensor reshapes as Keras's Reshape") }
        let y = call.exporter.addLayer("Reshape", name: call.name, inputs: [x], outputShape: target.map { $0 }, layout: .same,
                                       config: ["target_shape": target])
        call.bind(y)
    }

    /// Transposes between channels-first and channels-last change only how the Keras tensor is seen.
    static func exportTranspose(_ call: KerasExportCall) throws {
        var x = try call.input(0)
        let perm = call.node.ints("perm") ?? []
        if x.rank >= 3, x.layout == .same, perm == KerasGraphBuilder.toChannelsFirst(rank: x.rank) {
            x.layout = .channelsFirst
        } else if x.rank >= 3, x.layout == .channelsFirst, perm == KerasGraphBuilder.toChannelsLast(rank: x.rank) {
            x.layout = .same
        } else {
            throw ModelError("perm \(perm) is not a move between channels-first and channels-last")
        }
        call.bind(x)
    }

    /// Constant zero Pad of the spatial axes → ZeroPadding2D.
    static func exportPad(_ call: KerasExportCall) throws {
        let x = try call.channelsFirstInput()
        guard PadAttributes(call.node).mode == PadAttributes.defaultMode else { throw ModelError("only constant padding maps to ZeroPadding") }
        let pads = try (call.constant(1).map { try $0.int64s() } ?? call.node.ints("pads") ?? []).map { Int($0) }
        let r = x.rank
        guard pads.count == 2 * r, call.node.input(3) == nil else { throw ModelError("needs pads for every axis and no axes input") }
        if call.node.input(2) != nil { guard call.scalar(2) == 0 else { throw ModelError("only zero padding maps to ZeroPadding") } }
        guard pads[0] == 0, pads[1] == 0, pads[r] == 0, pads[r + 1] == 0 else {
            throw ModelError("padding of the batch or channel axis has no Keras equivalent")
        }
        let spatialPads = Array(pads[2..<r]) + Array(pads[(r + 2)...])
        call.bind(try ConvolutionLayers.zeroPad(call, x, pads: spatialPads, name: call.name))
    }

    /// Resize/Upsample by whole factors: nearest (asymmetric, floor) or linear (half_pixel) → UpSampling2D.
    static func exportResize(_ call: KerasExportCall) throws {
        let x = try call.channelsFirstInput()
        guard x.rank == 4, let out = call.irShape(call.output), out.count == 4, let h = x.shape[0], let w = x.shape[1],
              let oh = out[2], let ow = out[3], oh % h == 0, ow % w == 0 else {
            throw ModelError("needs known sizes and whole scale factors")
        }
        let node = call.node
        let resize = ResizeAttributes(node, legacy: node.kind == .upsample)
        let mode = resize.mode, transform = resize.coordinateTransformation
        let interpolation: String
        switch mode {
        case "nearest":
            // With whole factors, floor-of-asymmetric is the only rounding Keras's nearest matches.
            guard transform == "asymmetric", resize.nearestMode == "floor" else {
                throw ModelError("nearest resize must be asymmetric with floor rounding")
            }
            interpolation = "nearest"
        case "linear", "bilinear":
            guard transform == "half_pixel" || transform == "pytorch_half_pixel" else { throw ModelError("linear resize must use half_pixel") }
            interpolation = "bilinear"
        default:
            throw ModelError("resize mode '\(mode)' has no Keras equivalent")
        }
        let y = call.exporter.addLayer("UpSampling2D", name: call.name, inputs: [x], outputShape: [oh, ow, x.channels],
                                       layout: .channelsFirst,
                                       config: ["size": [oh / h, ow / w], "interpolation": interpolation, "data_format": "channels_last"])
        call.bind(y)
    }
}
