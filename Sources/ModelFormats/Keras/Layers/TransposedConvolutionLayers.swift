import Foundation
import ModelIR

/// Conv2DTranspose ⇄ ConvTranspose. Keras's kernel is (kh, kw, out, in), ONNX's (in, out, kh, kw).
/// TensorFlow crops the full transposed convolution ((in − 1)·s + k) to the output length Keras
/// computes, starting at the pad its forward convolution would put in front; ONNX says the same
/// with pads (begin, end) and output_padding (extra zeros at the end).
enum TransposedConvolutionLayers {
    static let mappings: [String: LayerMapping] = [
        "Conv2DTranspose": LayerMapping(weightNames: ConvolutionLayers.kernelAndBias, map: read),
    ]

    static let exporters: [OpKind: KerasNodeExporter] = [.convTranspose: write]

    /// ONNX pads and output_padding along one axis for Keras's `padding` and `output_padding`.
    static func onnxGeometry(input: Int, kernel k: Int, stride s: Int, padding: String, outputPadding: Int?)
        -> (begin: Int, end: Int, outputPadding: Int, output: Int)? {
        let length: Int
        if let op = outputPadding {
            let pad = padding == "same" ? k / 2 : 0
            length = (input - 1) * s + k - 2 * pad + op
        } else {
            length = padding == "same" ? input * s : input * s + max(k - s, 0)
        }
        let full = (input - 1) * s + k
        let begin = padding == "same" ? max(full - length, 0) / 2 : 0
        let rest = full - length - begin
        guard length > 0 else { return nil }
        return rest >= 0 ? (begin, rest, 0, length) : (begin, 0, -rest, length)
    }

    static func read(_ call: LayerCall) throws -> KTensor {
        let c = call.config, x = try call.single()
        guard x.rank == 4, let cin = x.channels else { throw call.error("expects a 4-D input with known channels") }
        let w = try ConvolutionLayers.window(c, rank: 2)
        guard w.dilations == [1, 1] else { throw call.error("dilated Conv2DTranspose is not supported") }
        guard w.padding == "same" || w.padding == "valid" else { throw call.error("padding '\(w.padding)' is not supported") }
        let filters = try c.int("filters")
        let outputPadding = c.has("output_padding") ? try c.ints("output_padding", count: 2) : nil
        let kernel = try call.weight("kernel", w.kernel + [filters, cin])
        let bias = c.bool("use_bias", default: true) ? try call.weight("bias", [filters]).values : nil
        var begin: [Int64] = [], end: [Int64] = [], extra: [Int64] = [], spatial: [Int?] = []
        for i in 0..<2 {
            guard let size = x.spatial[i], let g = onnxGeometry(input: size, kernel: w.kernel[i], stride: w.strides[i], padding: w.padding,
                                                                outputPadding: outputPadding?[i]) else {
                throw call.error("needs known spatial sizes")
            }
            begin.append(Int64(g.begin)); end.append(Int64(g.end)); extra.append(Int64(g.outputPadding)); spatial.append(g.output)
        }
        let b = call.builder
        var inputs = [x.name, b.constant("\(call.name).weight", permuted(kernel.values, dims: kernel.dims, perm: [3, 2, 0, 1]),
                                         dims: [cin, filters] + w.kernel)]
        if let bias { inputs.append(b.constant("\(call.name).bias", bias, dims: [filters])) }
        let activation = try c.string("activation", default: "linear")
        let out = b.add(.convTranspose, name: call.name, inputs: inputs, output: activation == "linear" ? call.output : nil,
                        [Attribute("kernel_shape", .ints(w.kernel.map(Int64.init))), Attribute("strides", .ints(w.strides.map(Int64.init))),
                         Attribute("pads", .ints(begin + end)), Attribute("output_padding", .ints(extra))])
        let result = KTensor(name: out, shape: spatial + [filters])
        return activation == "linear" ? result : try ActivationLayers.emit(activation, call, input: result, output: call.output)
    }

    /// ConvTranspose (group 1, no dilation) whose pads Keras's 'valid' or 'same' (with or without
    /// output_padding) reproduce → Conv2DTranspose.
    static func write(_ call: KerasExportCall) throws {
        let node = call.node, x = try call.channelsFirstInput()
        let w = try call.requireConstant(1, "the weight")
        guard w.dims.count == 4, x.rank == 4, let cin = x.channels, w.dims[0] == cin else {
            throw ModelError("only 2-D transposed convolutions with known input channels are supported")
        }
        let window = try WindowAttributes(node)
        guard ConvAttributes(node).group == 1, window.dilations(rank: 2) == [1, 1], window.outputShape == nil,
              window.autoPad == .notSet else {
            throw ModelError("groups, dilations, output_shape and auto_pad have no Conv2DTranspose equivalent")
        }
        let kernel = Array(w.dims.suffix(2)), filters = w.dims[1]
        let strides = window.strides(rank: 2), pads = window.pads(rank: 2), extra = window.outputPadding(rank: 2)
        guard let h = x.spatial[0], let wd = x.spatial[1] else { throw ModelError("needs known spatial sizes") }
        let sizes = [h, wd]
        var choice: (padding: String, outputPadding: [Int]?)?
        search: for padding in ["valid", "same"] {
            for explicit in [false, true] {
                var ops: [Int] = []
                var fits = true
                for i in 0..<2 {
                    let full: Int = (sizes[i] - 1) * strides[i] + kernel[i]
                    let target: Int = full + extra[i] - pads[i] - pads[2 + i]
                    let keepPad: Int = padding == "same" ? kernel[i] / 2 : 0
                    let op: Int? = explicit ? target - (full - 2 * keepPad) : nil
                    if let op, op < 0 || op >= max(strides[i], 1) { fits = false; break }
                    guard let g = onnxGeometry(input: sizes[i], kernel: kernel[i], stride: strides[i], padding: padding, outputPadding: op),
                          g.begin == pads[i], g.end == pads[2 + i], g.outputPadding == extra[i] else { fits = false; break }
                    ops.append(op ?? 0)
                }
                if fits { choice = (padding, explicit ? ops : nil); break search }
            }
        }
        guard let choice else { throw ModelError("pads \(pads) with output_padding \(extra) match neither Keras's 'valid' nor 'same'") }
        let bias = try call.constant(2).map { try $0.floats() }
        let fused = call.fusableActivation()
        var weights = [KerasWeight(name: "kernel", dims: kernel + [filters, cin], values: permuted(try w.floats(), dims: w.dims, perm: [2, 3, 1, 0]))]
        if let bias { weights.append(KerasWeight(name: "bias", dims: [filters], values: bias)) }
        var shape: [Int?] = []
        for i in 0..<2 {
            let full: Int = (sizes[i] - 1) * strides[i] + kernel[i]
            shape.append(full + extra[i] - pads[i] - pads[2 + i])
        }
        shape.append(filters)
        let y = call.exporter.addLayer("Conv2DTranspose", name: call.name, inputs: [x], outputShape: shape,
                                       layout: .channelsFirst,
                                       config: ["filters": filters, "kernel_size": kernel, "strides": strides, "padding": choice.padding,
                                                "output_padding": choice.outputPadding.map { $0 as Any } ?? NSNull(),
                                                "data_format": "channels_last", "dilation_rate": [1, 1],
                                                "activation": fused?.name ?? "linear", "use_bias": bias != nil],
                                       weights: weights)
        call.finish(y, fused: fused)
    }
}
