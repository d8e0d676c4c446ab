import ModelIR

/// Matrix products: Gemm and MatMul.
enum GemmOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.gemm, since: 1) { n, v in gemm(n, v) },
        KernelEntry(.matMul, since: 1) { _, _ in matMul },
    ]

    static func gemm(_ node: Node, _ opset: Int) -> OperatorFunction {
        let p = GemmAttributes(node)
        return { inputs, ctx in
            let a = try ctx.asFloat(try inputs.required(0)), b = try ctx.asFloat(try inputs.required(1))
            guard a.rank == 2, b.rank == 2 else { throw ModelError("A \(a.shape) and B \(b.shape) must be 2-D") }
            let (m, k) = p.transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
            let (kb, n) = p.transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
            guard k == kb else {
                throw ModelError("A \(a.shape)\(p.transA ? "ᵀ" : "") and B \(b.shape)\(p.transB ? "ᵀ" : "") do not multiply")
            }
            let y = try ctx.floats([m, n])
            var beta: Float = 0
            if let c = inputs.optional(2), p.beta != 0 {
                let fc = try ctx.asFloat(c)
                let layout = try BroadcastLayout([m, n], fc.shape)
                guard layout.outShape == [m, n] else { throw ModelError("C \(c.shape) does not broadcast to [\(m), \(n)]") }
                // Y starts as C broadcast to m×n; the product is then accumulated onto it.
                let strides = broadcastStrides(fc.shape, to: [m, n])
                for r in 0..<m { for j in 0..<n { y.f[r * n + j] = fc.f[r * strides[0] + j * strides[1]] } }
                beta = p.beta
            }
            sgemm(transA: p.transA, transB: p.transB, m: m, n: n, k: k, alpha: p.alpha, a.f, lda: a.shape[1],
                  b.f, ldb: b.shape[1], beta: beta, y.f, ldc: n, threads: ctx.threads)
            return [y]
        }
    }

    /// numpy matmul: 1-D operands are promoted to matrices, batch dimensions broadcast.
    static let matMul: OperatorFunction = { inputs, ctx in
        let a = try ctx.asFloat(try inputs.required(0)), b = try ctx.asFloat(try inputs.required(1))
        guard a.rank >= 1, b.rank >= 1 else { throw ModelError("MatMul needs operands of rank ≥ 1, got \(a.shape) and \(b.shape)") }
        let sa = a.rank == 1 ? [1, a.shape[0]] : a.shape
        let sb = b.rank == 1 ? [b.shape[0], 1] : b.shape
        let m = sa[sa.count - 2], k = sa[sa.count - 1], n = sb[sb.count - 1]
        guard sb[sb.count - 2] == k else { throw ModelError("shapes \(a.shape) and \(b.shape) do not multiply") }
        let batchA = Array(sa.dropLast(2)), batchB = Array(sb.dropLast(2))
        let batch = try broadcastShape(batchA, batchB)
        var outShape = batch
        if a.rank > 1 { outShape.append(m) }
        if b.rank > 1 { outShape.append(n) }
        let y = try ctx.floats(outShape)
        let batches = batch.reduce(1, *)
        if batchB.reduce(1, *) == 1 && batchA == batch {
            // B is one matrix: fold A's batch into its rows, one GEMM.
            sgemm(m: batches * m, n: n, k: k, a.f, lda: k, b.f, ldb: n, y.f, ldc: n, threads: ctx.threads)
            return [y]
        }
        let stA = broadcastStrides(batchA, to: batch), stB = broadcastStrides(batchB, to: batch)
        var offA = [Int](), offB = [Int]()
        offA.reserveCapacity(batches); offB.reserveCapacity(batches)
        for idx in 0..<batches {
            var rest = idx, oa = 0, ob = 0
            for d in stride(from: batch.count - 1, through: 0, by: -1) {
                let i = rest % batch[d]
                rest /= batch[d]
                oa += i * stA[d]; ob += i * stB[d]
            }
            offA.append(oa * m * k); offB.append(ob * k * n)
        }
        batchedMatMul(a.f, aOffsets: offA, b.f, bOffsets: offB, y.f, m: m, n: n, k: k, threads: ctx.threads)
        return [y]
    }
}
