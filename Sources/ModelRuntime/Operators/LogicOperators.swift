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
                let shape = try broadcastShape(broadcastShape(c.shape, x.shape), y.shape)
                let (ic, ix, iy) = (broadcastIndices(c.shape, to: shape), broadcastIndices(x.shape, to: shape),
                                    broadcastIndices(y.shape, to: shape))
                let out = try ctx.tensor(shape, type)
                if type == .int64 { selectElements(c.i, ic, x.i, ix, y.i, iy, out.i) }
                else { selectElements(c.i, ic, x.f, ix, y.f, iy, out.f) }
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
            let shape = try broadcastShape(a.shape, b.shape)
            let (ia, ib) = (broadcastIndices(a.shape, to: shape), broadcastIndices(b.shape, to: shape))
            let y = try ctx.int64s(shape)
            if a.elementType == .int64 { compareElements(a.i, ia, b.i, ib, y.i, ints) }
            else { compareElements(a.f, ia, b.f, ib, y.i, floats) }
            return [y]
        }
    }

    static func logic(_ op: @escaping (Bool, Bool) -> Bool) -> OperatorFunction {
        return { inputs, ctx in
            let ab = try [inputs.required(0), inputs.required(1)].map { $0.elementType == .int64 ? $0 : try truthValues($0) }
            let shape = try broadcastShape(ab[0].shape, ab[1].shape)
            let y = try ctx.int64s(shape)
            compareElements(ab[0].i, broadcastIndices(ab[0].shape, to: shape), ab[1].i, broadcastIndices(ab[1].shape, to: shape),
                            y.i) { op($0 != 0, $1 != 0) }
            return [y]
        }
    }

    /// A float tensor's elements as 0/1 (non-zero is true).
    static func truthValues(_ x: RuntimeTensor) throws -> RuntimeTensor {
        try RuntimeTensor(shape: x.shape, int64s: x.floats.map { $0 != 0 ? 1 : 0 })
    }
}
