import ModelIR

/// Comparisons (Equal, Less, LessOrEqual, Greater, GreaterOrEqual), logic (Not, And, Or, Xor) and
/// Where, with numpy broadcasting. Their bool results are int64 0/1; detection heads use them to
/// build masks and anchor grids.
enum LogicOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.equal, since: 7) { _, _ in comparison({ $0 == $1 }, { $0 == $1 }) },
        KernelEntry(.less, since: 7) { _, _ in comparison({ $0 < $1 }, { $0 < $1 }) },
        KernelEntry(.lessOrEqual, since: 12) { _, _ in comparison({ $0 <= $1 }, { $0 <= $1 }) },
        KernelEntry(.greater, since: 7) { _, _ in comparison({ $0 > $1 }, { $0 > $1 }) },
        KernelEntry(.greaterOrEqual, since: 12) { _, _ in comparison({ $0 >= $1 }, { $0 >= $1 }) },
        KernelEntry(.and, since: 7) { _, _ in logic { $0 && $1 } },
        KernelEntry(.or, since: 7) { _, _ in logic { $0 || $1 } },
        KernelEntry(.xor, since: 7) { _, _ in logic { $0 != $1 } },
        KernelEntry(.not, since: 1) { _, _ in
            { inputs, ctx in
                let x = try inputs.required(0)
                let y = try ctx.int64s(x.shape)
                let v = x.int64s
                for i in 0..<v.count { y.i[i] = v[i] == 0 ? 1 : 0 }
                return [y]
            }
        },
        KernelEntry(.where, since: 9) { _, _ in
            { inputs, ctx in
                var c = try inputs.required(0), x = try inputs.required(1), y = try inputs.required(2)
                if c.elementType != .int64 { c = try truthValues(c) }
                let type: RuntimeElementType = x.elementType == .int64 && y.elementType == .int64 ? .int64 : .float32
                if type == .float32 { x = try ctx.asFloat(x); y = try ctx.asFloat(y) }
                let e = try broadcast([c, x, y], ctx)
                let out = try ctx.tensor(e[0].shape, type)
                if type == .int64 { selectElements(e[0].i, e[1].i, e[2].i, out.i, count: out.count) }
                else { selectElements(e[0].i, e[1].f, e[2].f, out.f, count: out.count) }
                return [out]
            }
        },
    ]

    /// Two operands compared as int64 when both are integers, as float32 otherwise.
    static func comparison(_ ints: @escaping (Int64, Int64) -> Bool, _ floats: @escaping (Float, Float) -> Bool)
        -> OperatorFunction {
        return { inputs, ctx in
            var a = try inputs.required(0), b = try inputs.required(1)
            if a.elementType != .int64 || b.elementType != .int64 { a = try ctx.asFloat(a); b = try ctx.asFloat(b) }
            let ab = try broadcast([a, b], ctx)
            let y = try ctx.int64s(ab[0].shape)
            if a.elementType == .int64 { compareElements(ab[0].i, ab[1].i, y.i, count: y.count, ints) }
            else { compareElements(ab[0].f, ab[1].f, y.i, count: y.count, floats) }
            return [y]
        }
    }

    static func logic(_ op: @escaping (Bool, Bool) -> Bool) -> OperatorFunction {
        return { inputs, ctx in
            var ab = [try inputs.required(0), try inputs.required(1)]
            ab = try broadcast(ab.map { $0.elementType == .int64 ? $0 : try truthValues($0) }, ctx)
            let y = try ctx.int64s(ab[0].shape)
            compareElements(ab[0].i, ab[1].i, y.i, count: y.count) { op($0 != 0, $1 != 0) }
            return [y]
        }
    }

    /// A float tensor's elements as 0/1 (non-zero is true).
    static func truthValues(_ x: RuntimeTensor) throws -> RuntimeTensor {
        try RuntimeTensor(shape: x.shape, int64s: x.floats.map { $0 != 0 ? 1 : 0 })
    }

    /// Every tensor expanded to the common broadcast shape (the ones already of that shape as they are).
    static func broadcast(_ xs: [RuntimeTensor], _ ctx: ExecContext) throws -> [RuntimeTensor] {
        var shape = xs[0].shape
        for x in xs.dropFirst() { shape = try broadcastShape(shape, x.shape) }
        return try xs.map { x in
            x.shape == shape ? x
                : try DataMovementOperators.strided(x, base: 0, strides: broadcastStrides(x.shape, to: shape), shape: shape, ctx)
        }
    }
}
