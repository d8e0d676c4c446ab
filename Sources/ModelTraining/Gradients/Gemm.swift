import ModelIR
import ModelRuntime

/// Gradients of Gemm (transA, transB, alpha, beta, broadcast C) and MatMul (numpy semantics,
/// broadcast batch dimensions, 1-D operands).
enum GemmGradients {
    static let gemm = GradientRule.differentiable { g in
        let a = try g.input(0), b = try g.input(1), dy = try g.grad()
        let attributes = GemmAttributes(g.node)
        let transA = attributes.transA, transB = attributes.transB, alpha = attributes.alpha, beta = attributes.beta
        guard a.rank == 2, b.rank == 2 else { throw ModelError("Gemm needs 2-D A and B, got \(a.shape) and \(b.shape)") }
        let m = dy.shape[0], n = dy.shape[1], k = transA ? a.shape[0] : a.shape[1]
        let lda = a.shape[1], ldb = b.shape[1]
        var da: RuntimeTensor? = nil, db: RuntimeTensor? = nil, dc: RuntimeTensor? = nil
        if g.wants(0) {
            let t = try RuntimeTensor.uninitialized(a.shape)
            if transA {   // dA [K, M] = alpha · B' · dYᵀ
                RuntimeParallel.sgemm(transA: transB, transB: true, m: k, n: m, k: n, alpha: alpha, b.floatPointer, lda: ldb,
                                      dy.floatPointer, ldb: n, t.floatPointer, ldc: m, threads: g.threads)
            } else {      // dA [M, K] = alpha · dY · B'ᵀ
                RuntimeParallel.sgemm(transB: !transB, m: m, n: k, k: n, alpha: alpha, dy.floatPointer, lda: n,
                                      b.floatPointer, ldb: ldb, t.floatPointer, ldc: k, threads: g.threads)
            }
            da = t
        }
        if g.wants(1) {
            let t = try RuntimeTensor.uninitialized(b.shape)
            if transB {   // dB [N, K] = alpha · dYᵀ · A'
                RuntimeParallel.sgemm(transA: true, transB: transA, m: n, n: k, k: m, alpha: alpha, dy.floatPointer, lda: n,
                                      a.floatPointer, ldb: lda, t.floatPointer, ldc: k, threads: g.threads)
            } else {      // dB [K, N] = alpha · A'ᵀ · dY
                RuntimeParallel.sgemm(transA: !transA, m: k, n: n, k: m, alpha: alpha, a.floatPointer, lda: lda,
                                      dy.floatPointer, ldb: n, t.floatPointer, ldc: n, threads: g.threads)
            }
            db = t
        }
        if g.wants(2), let c = g.inputs.count > 2 ? g.inputs[2] : nil {
            let dyp = dy.floatPointer
            dc = try Broadcasting.reduce(dy.count, bigShape: dy.shape, to: c.shape) { dyp[$0] * beta }
        }
        return [da, db, dc]
    }

    static let matMul = GradientRule.differentiable { g in
        let a0 = try g.input(0), b0 = try g.input(1), dy0 = try g.grad()
        // 1-D operands become matrices: [K] → [1, K] on the left, [K] → [K, 1] on the right.
        let a = a0.rank == 1 ? try a0.viewed(as: [1, a0.count]) : a0
        let b = b0.rank == 1 ? try b0.viewed(as: [b0.count, 1]) : b0
        guard a.rank >= 2, b.rank >= 2 else { throw ModelError("MatMul of scalars") }
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = try Broadcasting.shape(batchA, batchB)
        let dy = try dy0.viewed(as: batch + [m, n])
        let ia = Broadcasting.indexMap(from: batchA, to: batch), ib = Broadcasting.indexMap(from: batchB, to: batch)
        let da = g.wants(0) ? try RuntimeTensor.filled(a.shape) : nil
        let db = g.wants(1) ? try RuntimeTensor.filled(b.shape) : nil
        for (index, (oa, ob)) in zip(ia, ib).enumerated() {
            let dyb = dy.floatPointer + index * m * n
            if let da {   // dA += dY · Bᵀ
                RuntimeParallel.sgemm(transB: true, m: m, n: k, k: n, dyb, lda: n, b.floatPointer + ob * k * n, ldb: n,
                                      beta: 1, da.floatPointer + oa * m * k, ldc: k, threads: g.threads)
            }
            if let db {   // dB += Aᵀ · dY
                RuntimeParallel.sgemm(transA: true, m: k, n: n, k: m, a.floatPointer + oa * m * k, lda: k, dyb, ldb: n,
                                      beta: 1, db.floatPointer + ob * k * n, ldc: n, threads: g.threads)
            }
        }
        return [try da?.viewed(as: a0.shape), try db?.viewed(as: b0.shape)]
    }
}
