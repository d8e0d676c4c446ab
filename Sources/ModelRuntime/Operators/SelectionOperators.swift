import ModelIR

/// ArgMax, ArgMin and TopK (selection along one axis) and Range.
enum SelectionOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.argMax, since: 1) { n, v in try argReduce(n, v, largest: true) },
        KernelEntry(.argMin, since: 1) { n, v in try argReduce(n, v, largest: false) },
        KernelEntry(.topK, 1...9) { n, v in
            guard let k = TopKAttributes(n).k else { throw ModelError("missing attribute 'k'") }
            return try topK(n, v) { _ in Int(clamping: k) }
        },
        KernelEntry(.topK, since: 10) { n, v in
            try topK(n, v) { inputs in
                guard let k = inputs.ints(1), k.count == 1 else { throw ModelError("input 1 (k) must hold one value") }
                return k[0]
            }
        },
        KernelEntry(.range, since: 11) { _, _ in
            { inputs, ctx in
                let start = try inputs.required(0), limit = try inputs.required(1), delta = try inputs.required(2)
                for (i, t) in [start, limit, delta].enumerated() where t.count != 1 {
                    throw ModelError("input \(i) must be a scalar, has shape \(t.shape)")
                }
                if [start, limit, delta].allSatisfy({ $0.elementType == .int64 }) {
                    let (s, l, d) = (start.i[0], limit.i[0], delta.i[0])
                    guard d != 0 else { throw ModelError("delta is 0") }
                    let n = Swift.max((l - s) / d + ((l - s) % d != 0 && (l - s > 0) == (d > 0) ? 1 : 0), 0)
                    let y = try ctx.int64s([Int(n)])
                    for k in 0..<Int(n) { y.i[k] = s + Int64(k) * d }
                    return [y]
                }
                let (s, l, d) = (start.floats[0], limit.floats[0], delta.floats[0])
                guard d != 0 else { throw ModelError("delta is 0") }
                let count = ((l - s) / d).rounded(.up)
                guard count.isFinite, count < Float(1 << 40) else { throw ModelError("range of \(count) elements") }
                let y = try ctx.floats([Swift.max(Int(count), 0)])
                for k in 0..<y.count { y.f[k] = s + Float(k) * d }
                return [y]
            }
        },
    ]

    static func argReduce(_ node: Node, _ opset: Int, largest: Bool) throws -> OperatorFunction {
        let axis = try node.axisValue(opset: opset)
        let attributes = ArgReduceAttributes(node)
        return { inputs, ctx in
            let x = try inputs.required(0)
            let a = try normalizeAxis(axis, rank: x.rank)
            let (outer, n, inner) = (product(x.shape[..<a]), x.shape[a], product(x.shape[(a + 1)...]))
            guard n > 0 else { throw ModelError("cannot select along empty axis \(a) of \(x.shape)") }
            var shape = x.shape
            if attributes.keepDims { shape[a] = 1 } else { shape.remove(at: a) }
            let y = try ctx.int64s(shape)
            let last = attributes.selectLastIndex
            if x.elementType == .int64 {
                argSelect(x.i, outer: outer, n: n, inner: inner, last: last, y.i) { largest ? $0 > $1 : $0 < $1 }
            } else {
                argSelect(x.f, outer: outer, n: n, inner: inner, last: last, y.i) { largest ? $0 > $1 : $0 < $1 }
            }
            return [y]
        }
    }

    static func topK(_ node: Node, _ opset: Int, k: @escaping ([RuntimeTensor?]) throws -> Int) throws -> OperatorFunction {
        let axis = try node.axisValue(opset: opset)
        let largest = TopKAttributes(node).largest
        return { inputs, ctx in
            let x = try inputs.required(0)
            let a = try normalizeAxis(axis, rank: x.rank)
            let k = try k(inputs)
            guard k >= 0, k <= x.shape[a] else { throw ModelError("k \(k) is outside 0...\(x.shape[a]) (axis \(a) of \(x.shape))") }
            let (outer, n, inner) = (product(x.shape[..<a]), x.shape[a], product(x.shape[(a + 1)...]))
            var shape = x.shape
            shape[a] = k
            let values = try ctx.tensor(shape, x.elementType), indices = try ctx.int64s(shape)
            if x.elementType == .int64 {
                ModelRuntime.topK(x.i, outer: outer, n: n, inner: inner, k: k, largest: largest, values.i, indices.i)
            } else {
                ModelRuntime.topK(x.f, outer: outer, n: n, inner: inner, k: k, largest: largest, values.f, indices.i)
            }
            return [values, indices]
        }
    }
}
