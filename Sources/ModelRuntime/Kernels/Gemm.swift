import CBLAS

/// Row-major single-precision GEMM through OpenBLAS: C = alpha·op(A)·op(B) + beta·C, where
/// op(A) is m×k and op(B) is k×n.
///
/// OpenBLAS itself always runs on the calling thread (the interpreter sets it so); with
/// `threads` > 1 a large product is split here into that many blocks of rows (or of columns when
/// there are few rows), one single-threaded call each. OpenBLAS's own threads would keep spinning
/// after each call and compete with the runtime's threads for the same cores.
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
           _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
           _ c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
    BLASKernels.select()
    // A matrix-vector product (one row) streams its matrix once, from memory or L3, at about an
    // eighth of a GEMM's rate per multiply-add: it is worth splitting 8× sooner (LeNet's 800 → 500
    // layer at batch 1, 1.6 MB of weights, ran on one thread of two).
    let work = m * n * k * (m == 1 ? 8 : 1)
    let parts = min(threads, max(m, n) / 16, max(1, work / (1 << 18)))
    guard parts > 1 else {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
        return
    }
    let byRows = m >= n
    parallelWorkers(byRows ? m : n, workers: parts) { _, r in
        if byRows {
            sgemm(transA: transA, transB: transB, m: r.count, n: n, k: k, alpha: alpha,
                  a + (transA ? r.lowerBound : r.lowerBound * lda), lda: lda, b, ldb: ldb, beta: beta,
                  c + r.lowerBound * ldc, ldc: ldc)
        } else {
            sgemm(transA: transA, transB: transB, m: m, n: r.count, k: k, alpha: alpha, a, lda: lda,
                  b + (transB ? r.lowerBound * ldb : r.lowerBound), ldb: ldb, beta: beta, c + r.lowerBound, ldc: ldc)
        }
    }
}

/// One single-threaded OpenBLAS call.
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
           _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
           _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0 && n > 0 else { return }
    if k == 0 {
        // BLAS leaves C untouched when k is 0 only if beta is 1; make the result exact.
        for r in 0..<m { for j in 0..<n { c[r * ldc + j] = beta == 0 ? 0 : beta * c[r * ldc + j] } }
        return
    }
    if m == 1 {
        // One row (a classifier at batch 1): a matrix-vector product. sgemm packs all of B first:
        // EfficientNet's 1280×1000 classifier took 0.89 ms that way, 0.72 ms this way (profiled,
        // with another process on the second core).
        let incX = Int32(transA ? lda : 1)
        if transB {  // B is n×k: y = B·x
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, incX, beta, c, 1)
        } else {     // B is k×n: y = Bᵀ·x
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, incX, beta, c, 1)
        }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Batched matrix product with broadcast batch dimensions: for each batch b,
/// y[b] (m×n) = a[b] (m×k) · bm[b] (k×n). `aOffsets`/`bOffsets` give each batch's start.
func batchedMatMul(_ a: UnsafePointer<Float>, aOffsets: [Int], _ b: UnsafePointer<Float>, bOffsets: [Int],
                   _ y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, threads: Int) {
    for (batch, (oa, ob)) in zip(aOffsets, bOffsets).enumerated() {
        sgemm(m: m, n: n, k: k, a + oa, lda: k, b + ob, ldb: n, y + batch * m * n, ldc: n, threads: threads)
    }
}
