import ModelIR

/// Element-wise arithmetic and math: Add…Pow, variadic Max/Min/Sum/Mean, unary math functions.
enum ElementwiseOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.add, 1...6) { n, _ in binary(AddOp.self, .add, legacy: n) },
        KernelEntry(.add, since: 7) { _, _ in binary(AddOp.self, .add) },
        KernelEntry(.sub, 1...6) { n, _ in binary(SubOp.self, .sub, legacy: n) },
        KernelEntry(.sub, since: 7) { _, _ in binary(SubOp.self, .sub) },
        KernelEntry(.mul, 1...6) { n, _ in binary(MulOp.self, .mul, legacy: n) },
        KernelEntry(.mul, since: 7) { _, _ in binary(MulOp.self, .mul) },
        KernelEntry(.div, 1...6) { n, _ in binary(DivOp.self, .div, legacy: n) },
        KernelEntry(.div, since: 7) { _, _ in binary(DivOp.self, .div) },
        KernelEntry(.pow, 1...6) { n, _ in binary(PowOp.self, nil, legacy: n) },
        KernelEntry(.pow, since: 7) { _, _ in binary(PowOp.self, nil) },
        KernelEntry(.max, since: 6) { _, _ in variadic(MaxOp.self, .max) },
        KernelEntry(.min, since: 6) { _, _ in variadic(MinOp.self, .min) },
        KernelEntry(.sum, since: 6) { _, _ in variadic(AddOp.self, .add) },
        KernelEntry(.mean, since: 6) { _, _ in mean() },
        KernelEntry(.exp, since: 1) { _, _ in unary(Exponential()) },
        KernelEntry(.log, since: 1) { _, _ in unary(Logarithm()) },
        KernelEntry(.sqrt, since: 1) { _, _ in unary(SquareRoot()) },
        KernelEntry(.neg, since: 1) { _, _ in unary(Negate()) },
        KernelEntry(.abs, since: 1) { _, _ in unary(Absolute()) },
        KernelEntry(.reciprocal, since: 1) { _, _ in unary(Reciprocal()) },
        KernelEntry(.floor, since: 1) { _, _ in unary(Floor()) },
        KernelEntry(.ceil, since: 1) { _, _ in unary(Ceil()) },
        KernelEntry(.sign, since: 9) { _, _ in unary(Sign()) },
        KernelEntry(.erf, since: 9) { _, _ in unary(ErrorFunction()) },
    ]

    /// y = f(x); with wanted plane statistics, computed plane by plane and each plane counted
    /// right after it is written. Outputs with planes of fewer than 8 values ([N, C] after a dense
    /// layer) are not counted here: their table would be larger than the data, which the observer
    /// scans right after this while it is still in cache.
    static func unary<F: UnaryFloatFunction>(_ f: F) -> OperatorFunction {
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0))
            let y = try ctx.floats(x.shape)
            if let table = ctx.statistics, x.rank >= 2, product(x.shape[2...]) >= 8 {
                mapUnary(f, x.f, y.f, planes: x.shape[0] * x.shape[1], planeSize: product(x.shape[2...]),
                         recording: table.claim(shape: y.shape), threads: ctx.threads)
            } else {
                mapUnary(f, x.f, y.f, count: x.count, threads: ctx.threads)
            }
            return [y]
        }
    }

    /// a ∘ b, computed as int64 when both operands are int64 and the op has an integer form.
    static func apply<Op: BinaryFloatOp>(_ op: Op.Type, _ intOp: IntBinary?, _ a: RuntimeTensor, _ b: RuntimeTensor,
                                         _ ctx: ExecContext) throws -> RuntimeTensor {
        let layout = try BroadcastLayout(a.shape, b.shape)
        if let intOp, a.elementType == .int64, b.elementType == .int64 {
            let y = try ctx.int64s(layout.outShape)
            binaryInt(intOp, a.i, b.i, y.i, layout: layout)
            return y
        }
        let fa = try ctx.asFloat(a), fb = try ctx.asFloat(b)
        let y = try ctx.floats(layout.outShape)
        binaryFloat(op, fa.f, fb.f, y.f, layout: layout, threads: ctx.threads)
        return y
    }

    static func binary<Op: BinaryFloatOp>(_ op: Op.Type, _ intOp: IntBinary?) -> OperatorFunction {
        return { inputs, ctx in [try apply(op, intOp, try inputs.required(0), try inputs.required(1), ctx)] }
    }

    /// Opset 1–6 broadcasting: with `broadcast=1`, B's dimensions line up with A's from `axis`
    /// (default: B's trailing dimensions match A's).
    static func binary<Op: BinaryFloatOp>(_ op: Op.Type, _ intOp: IntBinary?, legacy node: Node) -> OperatorFunction {
        let broadcast = node.int("broadcast", default: 0) != 0
        let axis = node.ints("axis").map { Int($0[0]) }
        return { inputs, ctx in
            let a = try inputs.required(0)
            var b = try inputs.required(1)
            if broadcast, let axis {
                let start = try normalizeAxis(axis, rank: a.rank)
                let trailing = a.rank - start - b.rank
                guard trailing >= 0 else { throw ModelError("B of shape \(b.shape) does not fit A \(a.shape) at axis \(axis)") }
                b = b.reshaped(b.shape + [Int](repeating: 1, count: trailing))
            } else if !broadcast && a.shape != b.shape {
                throw ModelError("shapes \(a.shape) and \(b.shape) differ and broadcast is not set")
            }
            return [try apply(op, intOp, a, b, ctx)]
        }
    }

    static func variadic<Op: BinaryFloatOp>(_ op: Op.Type, _ intOp: IntBinary) -> OperatorFunction {
        return { inputs, ctx in
            let xs = inputs.compactMap { $0 }
            guard let first = xs.first else { throw ModelError("needs at least one input") }
            if xs.count == 1 {
                let y = try ctx.tensor(first.shape, first.elementType)
                y.buffer.raw.copyMemory(from: first.buffer.raw, byteCount: first.count * (first.elementType == .float32 ? 4 : 8))
                return [y]
            }
            var acc = try apply(op, intOp, xs[0], xs[1], ctx)
            for x in xs.dropFirst(2) {
                let layout = try BroadcastLayout(acc.shape, x.shape)
                if layout.outShape == acc.shape && acc.elementType == .float32 {
                    // The accumulator already has the output's shape: update it in place.
                    let fx = try ctx.asFloat(x)
                    binaryFloat(op, acc.f, fx.f, acc.f, layout: layout, threads: ctx.threads)
                } else {
                    acc = try apply(op, intOp, acc, x, ctx)
                }
            }
            return [acc]
        }
    }

    static func mean() -> OperatorFunction {
        let sum = variadic(AddOp.self, .add)
        return { inputs, ctx in
            var y = try sum(inputs, ctx)[0]
            y = try ctx.asFloat(y)
            let scale = Scale(factor: 1 / Float(inputs.compactMap { $0 }.count))
            mapUnary(scale, y.f, y.f, count: y.count, threads: ctx.threads)
            return [y]
        }
    }
}

struct Scale: UnaryFloatFunction {
    let factor: Float
    func scalar(_ x: Float) -> Float { x * factor }
    func vector(_ x: F8) -> F8 { x * factor }
}
