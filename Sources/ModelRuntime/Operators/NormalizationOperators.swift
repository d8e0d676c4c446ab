import ModelIR

/// BatchNormalization (inference), InstanceNormalization, LayerNormalization, LRN.
enum NormalizationOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.batchNormalization, since: 1) { n, v in try batchNorm(n, v) },
        KernelEntry(.instanceNormalization, since: 1) { n, _ in instanceNormalization(n) },
        KernelEntry(.layerNormalization, since: 17) { n, v in try layerNormalization(n, v) },
        KernelEntry(.lrn, since: 1) { n, _ in try lrn(n) },
    ]

    /// A per-channel parameter input of `channels` values.
    static func channelVector(_ inputs: [RuntimeTensor?], _ i: Int, _ channels: Int, _ what: String) throws -> [Float] {
        let t = try inputs.required(i)
        guard t.count == channels else { throw ModelError("\(what) has shape \(t.shape), expected [\(channels)]") }
        return t.floats
    }

    static func batchNorm(_ node: Node, _ opset: Int) throws -> OperatorFunction {
        let attributes = BatchNormalizationAttributes(node)
        if attributes.trainingMode || node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            throw ModelError("training-mode batch normalization is not supported (inference only)")
        }
        if opset < 9 && !attributes.spatial {
            throw ModelError("spatial=0 batch normalization is not supported")
        }
        let epsilon = attributes.epsilon
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0))
            guard x.rank >= 2 else { throw ModelError("X has shape \(x.shape), expected rank ≥ 2") }
            let c = x.shape[1]
            let scale = try channelVector(inputs, 1, c, "scale"), bias = try channelVector(inputs, 2, c, "B")
            let mean = try channelVector(inputs, 3, c, "mean"), variance = try channelVector(inputs, 4, c, "var")
            var a = [Float](repeating: 0, count: c), b = a
            for k in 0..<c {
                a[k] = scale[k] / (variance[k] + epsilon).squareRoot()
                b[k] = bias[k] - mean[k] * a[k]
            }
            return [try affine(x, scale: a, shift: b, ctx)]
        }
    }

    /// clamp(x·scale[c] + shift[c], low, high) in x's layout (plain or channel-blocked).
    static func affine(_ x: RuntimeTensor, scale: [Float], shift: [Float], low: Float = -.infinity, high: Float = .infinity,
                       _ ctx: ExecContext) throws -> RuntimeTensor {
        var y = try ctx.floats(x.shape)
        y.blocked = x.blocked
        channelAffine(x.f, y.f, scale: scale, shift: shift, batch: x.shape[0], spatial: product(x.shape[2...]),
                      low: low, high: high, blocked: x.blocked, threads: ctx.threads)
        return y
    }

    static func instanceNormalization(_ node: Node) -> OperatorFunction {
        let epsilon = NormalizationAttributes(node).epsilon
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0))
            guard x.rank >= 2 else { throw ModelError("input has shape \(x.shape), expected rank ≥ 2") }
            let c = x.shape[1]
            let scale = try channelVector(inputs, 1, c, "scale"), bias = try channelVector(inputs, 2, c, "B")
            let y = try ctx.floats(x.shape)
            instanceNorm(x.f, y.f, scale: scale, bias: bias, batch: x.shape[0], channels: c,
                         spatial: product(x.shape[2...]), epsilon: epsilon, threads: ctx.threads)
            return [y]
        }
    }

    static func layerNormalization(_ node: Node, _ opset: Int) throws -> OperatorFunction {
        let axis = try node.axisValue(opset: opset), epsilon = NormalizationAttributes(node).epsilon
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0))
            let a = try normalizeAxis(axis, rank: x.rank)
            let normShape = Array(x.shape[a...]), n = product(x.shape[a...]), rows = product(x.shape[..<a])
            // Scale and bias broadcast to the normalized shape; expand them once per call.
            func expanded(_ i: Int) throws -> [Float]? {
                guard let t = inputs.optional(i) else { return nil }
                let layout = try BroadcastLayout(normShape, t.shape)
                guard layout.outShape == normShape else { throw ModelError("input \(i) \(t.shape) does not broadcast to \(normShape)") }
                let ft = try ctx.asFloat(t)
                let st = broadcastStrides(t.shape, to: normShape), so = stridesOf(normShape)
                return (0..<n).map { idx in
                    var off = 0
                    for d in 0..<normShape.count { off += (idx / so[d]) % normShape[d] * st[d] }
                    return ft.f[off]
                }
            }
            guard let scale = try expanded(1) else { throw ModelError("required input 1 (Scale) is missing") }
            let bias = try expanded(2)
            let statShape = Array(x.shape[..<a]) + [Int](repeating: 1, count: x.rank - a)
            let y = try ctx.floats(x.shape), mean = try ctx.floats(statShape), inv = try ctx.floats(statShape)
            scale.withUnsafeBufferPointer { s in
                if let bias {
                    bias.withUnsafeBufferPointer { b in
                        layerNorm(x.f, y.f, scale: s.baseAddress!, bias: b.baseAddress!, rows: rows, n: n, epsilon: epsilon,
                                  meanOut: mean.f, invStdOut: inv.f, threads: ctx.threads)
                    }
                } else {
                    layerNorm(x.f, y.f, scale: s.baseAddress!, bias: nil, rows: rows, n: n, epsilon: epsilon,
                              meanOut: mean.f, invStdOut: inv.f, threads: ctx.threads)
                }
            }
            return [y, mean, inv]
        }
    }

    static func lrn(_ node: Node) throws -> OperatorFunction {
        let a = LRNAttributes(node)
        let size = Int(clamping: a.size ?? 0)
        guard size >= 1 else { throw ModelError("size must be a positive integer, got \(size)") }
        let alpha = a.alpha, beta = a.beta, bias = a.bias
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0))
            guard x.rank >= 2 else { throw ModelError("input has shape \(x.shape), expected rank ≥ 2") }
            let y = try ctx.floats(x.shape)
            localResponseNorm(x.f, y.f, batch: x.shape[0], channels: x.shape[1], spatial: product(x.shape[2...]),
                              size: size, alpha: alpha, beta: beta, bias: bias, threads: ctx.threads)
            return [y]
        }
    }
}
