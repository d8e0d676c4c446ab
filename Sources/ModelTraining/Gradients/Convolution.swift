import ModelIR
import ModelRuntime

/// Gradients of Conv and ConvTranspose (1-D and 2-D, groups, strides, dilations, pads,
/// auto_pad) through column matrices and OpenBLAS: per image and group,
/// dW += dY · colsᵀ, dCols = Wᵀ · dY, dX = col2im(dCols).
enum ConvolutionGradients {
    static let conv = GradientRule.differentiable { g in
        let x = try g.input(0), w = try g.input(1), y = g.outputs[0], dy = try g.grad()
        guard x.rank == 3 || x.rank == 4, w.rank == x.rank else {
            throw ModelError("only 1-D and 2-D convolutions can be trained (X \(x.shape), W \(w.shape))")
        }
        let groups = ConvAttributes(g.node).group
        let n = x.shape[0], c = x.shape[1], m = w.shape[0]
        guard groups > 0, c % groups == 0, m % groups == 0, w.shape[1] == c / groups else {
            throw ModelError("W \(w.shape) does not fit X \(x.shape) with \(groups) groups")
        }
        let cg = c / groups, mg = m / groups
        let geo = try ConvolutionGeometry.window(g.node, kernel: Array(w.shape[2...]), input: Array(x.shape[2...]),
                                                 output: Array(y.shape[2...]), channels: cg)
        let k = geo.columnRows, p = geo.outPositions, plane = geo.height * geo.width
        let wantX = g.wants(0), wantW = g.wants(1)
        let dx = wantX ? try RuntimeTensor.filled(x.shape) : nil
        let workers = max(1, min(g.threads, n))
        // Each worker sums its images' dW on its own; the sums are added at the end.
        let partial = wantW ? try (0..<workers).map { _ in try RuntimeTensor.filled(w.shape) } : []
        let xp = x.floatPointer, wp = w.floatPointer, dyp = dy.floatPointer
        RuntimeParallel.workers(n, workers: workers) { worker, images in
            let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * p)
            defer { cols.deallocate() }
            for image in images {
                for group in 0..<groups {
                    let dyg = dyp + (image * m + group * mg) * p
                    if wantW {
                        geo.im2col(xp + (image * c + group * cg) * plane, cols)
                        RuntimeParallel.sgemm(transB: true, m: mg, n: k, k: p, dyg, lda: p, cols, ldb: p, beta: 1,
                                              partial[worker].floatPointer + group * mg * k, ldc: k, threads: 1)
                    }
                    if let dx {
                        RuntimeParallel.sgemm(transA: true, m: k, n: p, k: mg, wp + group * mg * k, lda: k, dyg, ldb: p,
                                              cols, ldc: p, threads: 1)
                        geo.col2im(cols, dx.floatPointer + (image * c + group * cg) * plane)
                    }
                }
            }
        }
        let dw = wantW ? sum(partial) : nil
        let db = g.wants(2) ? try biasGradient(dy, channels: m) : nil
        return [dx, dw, db]
    }

    /// ConvTranspose: Y = col2im(Wᵀ · X) per group, so dX = W · im2col(dY) and dW += X · im2col(dY)ᵀ.
    static let convTranspose = GradientRule.differentiable { g in
        let x = try g.input(0), w = try g.input(1), y = g.outputs[0], dy = try g.grad()
        guard x.rank == 3 || x.rank == 4, w.rank == x.rank else {
            throw ModelError("only 1-D and 2-D transposed convolutions can be trained (X \(x.shape), W \(w.shape))")
        }
        let groups = ConvAttributes(g.node).group
        let n = x.shape[0], c = x.shape[1], m = y.shape[1]
        guard groups > 0, c % groups == 0, w.shape[0] == c, w.shape[1] * groups == m else {
            throw ModelError("W \(w.shape) does not fit X \(x.shape) with \(groups) groups")
        }
        let cg = c / groups, mg = m / groups
        // The transposed view: a convolution over Y's planes whose window positions are X's.
        let geo = try ConvolutionGeometry.window(g.node, kernel: Array(w.shape[2...]), input: Array(y.shape[2...]),
                                                 output: Array(x.shape[2...]), channels: mg, transposed: true)
        let k = geo.columnRows, p = geo.outPositions, yPlane = geo.height * geo.width
        let dx = g.wants(0) ? try RuntimeTensor.uninitialized(x.shape) : nil
        let workers = max(1, min(g.threads, n))
        let partial = g.wants(1) ? try (0..<workers).map { _ in try RuntimeTensor.filled(w.shape) } : []
        let xp = x.floatPointer, wp = w.floatPointer, dyp = dy.floatPointer
        RuntimeParallel.workers(n, workers: workers) { worker, images in
            let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * p)
            defer { cols.deallocate() }
            for image in images {
                for group in 0..<groups {
                    geo.im2col(dyp + (image * m + group * mg) * yPlane, cols)
                    let xg = xp + (image * c + group * cg) * p
                    if let dx {
                        RuntimeParallel.sgemm(m: cg, n: p, k: k, wp + group * cg * k, lda: k, cols, ldb: p,
                                              dx.floatPointer + (image * c + group * cg) * p, ldc: p, threads: 1)
                    }
                    if !partial.isEmpty {
                        RuntimeParallel.sgemm(transB: true, m: cg, n: k, k: p, xg, lda: p, cols, ldb: p, beta: 1,
                                              partial[worker].floatPointer + group * cg * k, ldc: k, threads: 1)
                    }
                }
            }
        }
        let dw = g.wants(1) ? sum(partial) : nil
        let db = g.wants(2) ? try biasGradient(dy, channels: m) : nil
        return [dx, dw, db]
    }

    /// Σ over images and positions of dY, per channel.
    static func biasGradient(_ dy: RuntimeTensor, channels: Int) throws -> RuntimeTensor {
        let db = try RuntimeTensor.filled([channels])
        let plane = dy.shape[2...].reduce(1, *), p = dy.floatPointer, out = db.floatPointer
        for image in 0..<dy.shape[0] {
            for ch in 0..<channels {
                let base = p + (image * channels + ch) * plane
                var s: Float = 0
                for i in 0..<plane { s += base[i] }
                out[ch] += s
            }
        }
        return db
    }

    /// The first tensor with the others added into it.
    static func sum(_ parts: [RuntimeTensor]) -> RuntimeTensor {
        let first = parts[0], out = first.floatPointer
        for t in parts.dropFirst() {
            let q = t.floatPointer
            for i in 0..<first.count { out[i] += q[i] }
        }
        return first
    }
}
