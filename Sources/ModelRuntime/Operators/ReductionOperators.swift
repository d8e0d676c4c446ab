import ModelIR

/// Reduce* operators. Axes are an attribute until ReduceSum-13 and the others' opset 18, then an
/// input.
enum ReductionOperators {
    static let kinds: [(OpKind, ReductionKind)] = [
        (.reduceSum, .sum), (.reduceMean, .mean), (.reduceMax, .max), (.reduceMin, .min), (.reduceProd, .prod),
        (.reduceSumSquare, .sumSquare), (.reduceL1, .l1), (.reduceL2, .l2), (.reduceLogSum, .logSum),
        (.reduceLogSumExp, .logSumExp),
    ]

    static let entries: [KernelEntry] = kinds.flatMap { op, kind -> [KernelEntry] in
        let moved = Int(ReduceAttributes.axesInputSince(op))
        return [
            KernelEntry(op, 1...(moved - 1)) { n, _ in
                let axes = n.intList("axes")
                return reduction(n, kind) { _ in axes }
            },
            KernelEntry(op, since: moved) { n, _ in reduction(n, kind) { $0.ints(1) } },
        ]
    }

    static func reduction(_ node: Node, _ kind: ReductionKind, axes: @escaping ([RuntimeTensor?]) -> [Int]?) -> OperatorFunction {
        let attributes = ReduceAttributes(node)
        let keepDims = attributes.keepDims, noop = attributes.noopWithEmptyAxes
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0))
            var list = axes(inputs) ?? []
            if list.isEmpty {
                if noop { return [x] }
                list = Array(0..<x.rank)
            }
            let reduced = Set(try normalizeAxes(list, rank: x.rank))
            let kept = (0..<x.rank).filter { !reduced.contains($0) }
            let outShape = keepDims ? (0..<x.rank).map { reduced.contains($0) ? 1 : x.shape[$0] } : kept.map { x.shape[$0] }
            let sorted = reduced.sorted()
            var source = x, outer: Int, n: Int, inner: Int
            if let first = sorted.first, sorted.last! - first + 1 == sorted.count {
                // The reduced axes are one block: view the data as [outer, block, inner].
                (outer, n, inner) = (product(x.shape[..<first]), product(x.shape[first...sorted.last!]),
                                     product(x.shape[(sorted.last! + 1)...]))
            } else {
                // Move the reduced axes last, then reduce rows.
                let perm = kept + sorted, s = stridesOf(x.shape)
                source = try DataMovementOperators.strided(x, base: 0, strides: perm.map { s[$0] },
                                                           shape: perm.map { x.shape[$0] }, ctx)
                (outer, n, inner) = (kept.reduce(1) { $0 * x.shape[$1] }, sorted.reduce(1) { $0 * x.shape[$1] }, 1)
            }
            let y = try ctx.floats(outShape)
            reduce(source.f, y.f, outer: outer, n: n, inner: inner, kind: kind, threads: ctx.threads)
            if source.buffer !== x.buffer { ctx.recycle(consume source) }
            return [y]
        }
    }
}
