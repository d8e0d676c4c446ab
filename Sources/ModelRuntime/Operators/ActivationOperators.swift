import ModelIR

/// Activation functions: ReLU family, sigmoids, Clip, Gelu, Softmax/LogSoftmax.
enum ActivationOperators {
    typealias E = ElementwiseOperators

    static let entries: [KernelEntry] = [
        KernelEntry(.relu, since: 1) { _, _ in E.unary(Relu()) },
        KernelEntry(.leakyRelu, since: 1) { n, _ in E.unary(LeakyRelu(alpha: LeakyReluAttributes(n).alpha)) },
        KernelEntry(.thresholdedRelu, since: 10) { n, _ in E.unary(ThresholdedRelu(alpha: ThresholdedReluAttributes(n).alpha)) },
        KernelEntry(.pRelu, since: 1) { _, opset in
            return { inputs, ctx in
                let x = try inputs.required(0)
                var slope = try inputs.required(1)
                if opset < 7 && slope.rank == 1 && x.rank >= 2 && slope.count == x.shape[1] && slope.count > 1 {
                    // Before opset 7 a [C] slope is per channel of [N, C, …].
                    slope = slope.reshaped([slope.count] + [Int](repeating: 1, count: x.rank - 2))
                }
                let y = try E.apply(PReluOp.self, nil, x, slope, ctx)
                guard y.shape == x.shape else { throw ModelError("slope \(slope.shape) does not broadcast to X \(x.shape)") }
                return [y]
            }
        },
        KernelEntry(.elu, since: 1) { n, _ in E.unary(Elu(alpha: EluAttributes(n).alpha)) },
        KernelEntry(.selu, since: 1) { n, _ in
            let a = SeluAttributes(n)
            return E.unary(Selu(alpha: a.alpha, gamma: a.gamma))
        },
        KernelEntry(.clip, 1...10) { n, _ in
            let a = ClipAttributes(n)
            return E.unary(Clip(low: a.min, high: a.max))
        },
        KernelEntry(.clip, since: 11) { _, _ in
            return { inputs, ctx in
                let f = Clip(low: try inputs.scalar(1) ?? ClipAttributes.defaultMin,
                             high: try inputs.scalar(2) ?? ClipAttributes.defaultMax)
                return try E.unary(f)(inputs, ctx)
            }
        },
        KernelEntry(.sigmoid, since: 1) { _, _ in E.unary(Sigmoid()) },
        KernelEntry(.hardSigmoid, since: 1) { n, _ in
            let a = HardSigmoidAttributes(n)
            return E.unary(HardSigmoid(alpha: a.alpha, beta: a.beta))
        },
        KernelEntry(.hardSwish, since: 14) { _, _ in E.unary(HardSwish()) },
        KernelEntry(.shrink, since: 9) { n, _ in
            let a = ShrinkAttributes(n)
            return E.unary(Shrink(lambda: a.lambda, bias: a.bias))
        },
        KernelEntry(.tanh, since: 1) { _, _ in E.unary(Tanh()) },
        KernelEntry(.softplus, since: 1) { _, _ in E.unary(Softplus()) },
        KernelEntry(.softsign, since: 1) { _, _ in E.unary(Softsign()) },
        KernelEntry(.gelu, since: 20) { n, _ in
            let a = GeluAttributes(n)
            guard a.approximate == "none" || a.usesTanh else { throw ModelError("unknown approximate '\(a.approximate)'") }
            return E.unary(Gelu(tanhApproximation: a.usesTanh))
        },
        KernelEntry(.softmax, 1...12) { n, v in try softmaxOperator(n, v, log: false) },
        KernelEntry(.softmax, since: 13) { n, v in try softmaxOperator(n, v, log: false) },
        KernelEntry(.logSoftmax, 1...12) { n, v in try softmaxOperator(n, v, log: true) },
        KernelEntry(.logSoftmax, since: 13) { n, v in try softmaxOperator(n, v, log: true) },
    ]

    /// Before opset 13 the input is coerced to 2-D at `axis` (default 1) and normalized over the
    /// second dimension; from 13 it is normalized along `axis` alone (default -1).
    static func softmaxOperator(_ node: Node, _ opset: Int, log: Bool) throws -> OperatorFunction {
        let coerce = opset < 13
        let axis = try node.axisValue(opset: opset)
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0))
            let a = x.rank == 0 ? 0 : try normalizeAxis(axis, rank: x.rank)
            let outer = product(x.shape[..<a])
            let n = coerce ? product(x.shape[a...]) : (x.rank == 0 ? 1 : x.shape[a])
            let inner = coerce || x.rank == 0 ? 1 : product(x.shape[(a + 1)...])
            let y = try ctx.floats(x.shape)
            softmax(x.f, y.f, outer: outer, n: n, inner: inner, log: log, threads: ctx.threads)
            return [y]
        }
    }
}
