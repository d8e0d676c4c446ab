import ModelIR
import ModelRuntime

/// Gradients of Conv and ConvTranspose (1-D and 2-D, groups, strides, dilations, pads,
/// auto_pad) through column matrices and OpenBLAS: per group, over a chunk of images at once,
/// dW += dY · colsᵀ, dCols = Wᵀ · dY, dX = col2im(dCols). Depthwise convolutions (one input and
/// one output channel per group) run directly on the planes instead.
enum ConvolutionGradients {
    /// Floats of one worker's column matrix: enough images side by side that the GEMMs are large
    /// (LeNet's second conv: 8 images, a 500 × 512 matrix), few enough to stay in L2. 2^20 took
    /// 5–10 % more CPU time on LeNet and VGG-style and 5 MB more peak memory.
    static let columnBudget = 1 << 18

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
        let db = g.wants(2) ? try biasGradient(dy, channels: m, threads: g.threads) : nil
        if cg == 1 && mg == 1 {
            let dx = wantX ? try g.floats(x.shape) : nil
            let dw = wantW ? try g.floats(w.shape, zeroed: false) : nil
            depthwise(geo, x: x, w: w, dy: dy, dx: dx, dw: dw, threads: g.threads)
            return [dx, dw, db]
        }
        var dx = wantX ? try dataGradientByConvolution(g, x: x, w: w, dy: dy, geo: geo, groups: groups) : nil
        // Otherwise dX comes from the column matrices: Wᵀ · dY, added back by col2im.
        let dxColumns = wantX && dx == nil ? try g.floats(x.shape) : nil
        if let dxColumns { dx = dxColumns }
        let workers = max(1, min(g.threads, n))
        // Each worker sums its images' dW on its own; the sums are added at the end.
        let partial = wantW ? try (0..<workers).map { _ in try RuntimeTensor.filled(w.shape) } : []
        let xp = x.floatPointer, wp = w.floatPointer, dyp = dy.floatPointer
        let span = max(1, min((n + workers - 1) / workers, columnBudget / max(k * p, 1)))
        RuntimeParallel.workers(n, workers: workers) { worker, images in
            let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * span * p)
            let dyg = UnsafeMutablePointer<Float>.allocate(capacity: mg * span * p)
            defer { cols.deallocate(); dyg.deallocate() }
            var first = images.lowerBound
            while first < images.upperBound {
                let count = min(span, images.upperBound - first), ld = count * p
                for group in 0..<groups {
                    // This group's dY for the chunk's images side by side: [mg, count · p].
                    for i in 0..<count {
                        for r in 0..<mg {
                            (dyg + r * ld + i * p).update(from: dyp + ((first + i) * m + group * mg + r) * p, count: p)
                        }
                    }
                    if wantW {
                        for i in 0..<count {
                            geo.im2col(xp + ((first + i) * c + group * cg) * plane, cols + i * p, rowStride: ld)
                        }
                        RuntimeParallel.sgemm(transB: true, m: mg, n: k, k: ld, dyg, lda: ld, cols, ldb: ld, beta: 1,
                                              partial[worker].floatPointer + group * mg * k, ldc: k, threads: 1)
                    }
                    if let dx = dxColumns {
                        RuntimeParallel.sgemm(transA: true, m: k, n: ld, k: mg, wp + group * mg * k, lda: k, dyg, ldb: ld,
                                              cols, ldc: ld, threads: 1)
                        for i in 0..<count {
                            geo.col2im(cols + i * p, dx.floatPointer + ((first + i) * c + group * cg) * plane, rowStride: ld)
                        }
                    }
                }
                first += count
            }
        }
        let dw = wantW ? sum(partial) : nil
        return [dx, dw, db]
    }

    /// dX of a stride-1 2-D convolution as a convolution of dY, by the runtime's forward kernel
    /// (several times faster than Wᵀ · dY and col2im): with W' the weights flipped in both axes
    /// and each group's input and output channels swapped, and pads of dilation · (kernel − 1)
    /// minus the forward's, conv(dY, W') sums exactly the products col2im(Wᵀ · dY) does. Nil
    /// where that does not apply (strides, 1-D, pads wider than the window's reach).
    static func dataGradientByConvolution(_ g: GradientInputs, x: RuntimeTensor, w: RuntimeTensor, dy: RuntimeTensor,
                                          geo: ConvolutionGeometry, groups: Int) throws -> RuntimeTensor? {
        guard x.rank == 4, geo.strideH == 1, geo.strideW == 1 else { return nil }
        let (kh, kw) = (geo.kernelH, geo.kernelW)
        let reachH = geo.dilationH * (kh - 1), reachW = geo.dilationW * (kw - 1)
        let pads = [reachH - geo.padTop, reachW - geo.padLeft, reachH - geo.padBottom, reachW - geo.padRight]
        guard pads.allSatisfy({ $0 >= 0 }) else { return nil }
        let m = w.shape[0], cg = w.shape[1], mg = m / groups, taps = kh * kw
        let flipped = try g.floats([cg * groups, mg, kh, kw], zeroed: false)
        let from = w.floatPointer, to = flipped.floatPointer
        for group in 0..<groups {
            for o in 0..<mg {
                for i in 0..<cg {
                    let source = from + ((group * mg + o) * cg + i) * taps, target = to + ((group * cg + i) * mg + o) * taps
                    for t in 0..<taps { target[t] = source[taps - 1 - t] }
                }
            }
        }
        let kernel: NodeKernel
        if let known = g.cache.dataConvolutions[pads] {
            kernel = known
        } else {
            let node = Node(name: g.node.name + "/dX", opType: "Conv", inputs: ["dY", "W"], outputs: ["dX"], attributes: [
                Attribute("kernel_shape", .ints([Int64(kh), Int64(kw)])),
                Attribute("pads", .ints(pads.map { Int64($0) })),
                Attribute("dilations", .ints([Int64(geo.dilationH), Int64(geo.dilationW)])),
                Attribute("group", .int(Int64(groups))),
            ])
            kernel = try NodeKernel(node: node, opset: g.opset)
            g.cache.dataConvolutions[pads] = kernel
        }
        let out = try kernel([dy, flipped], arena: g.arena ?? Arena(), threads: g.threads)
        guard let dx = out.first, dx.shape == x.shape, dx.elementType == .float32 else { return nil }
        return dx
    }

    /// Depthwise convolution (groups = channels = outputs): per plane and tap,
    /// dW[tap] += Σ dY · x and dX += W[tap] · dY over the positions the tap reads inside the input,
    /// without column matrices (as GEMMs these are 1 × 9 products, all overhead). Channels are
    /// split over the threads, so each dW row has one writer. `dx` is zero on entry.
    static func depthwise(_ geo: ConvolutionGeometry, x: RuntimeTensor, w: RuntimeTensor, dy: RuntimeTensor,
                          dx: RuntimeTensor?, dw: RuntimeTensor?, threads: Int) {
        let n = x.shape[0], c = x.shape[1], plane = geo.height * geo.width, p = geo.outPositions
        let taps = geo.kernelH * geo.kernelW
        let xp = x.floatPointer, wp = w.floatPointer, dyp = dy.floatPointer
        let dxp = dx?.floatPointer, dwp = dw?.floatPointer
        RuntimeParallel.chunks(c, threads: threads, cost: n * p * taps * 2) { channels in
            for ch in channels {
                for ky in 0..<geo.kernelH {
                    for kx in 0..<geo.kernelW {
                        let tap = ky * geo.kernelW + kx, weight = wp[ch * taps + tap]
                        let (lo, hi, offset) = geo.validColumns(kx)
                        var acc = SIMD8<Float>(), tail: Float = 0
                        for image in 0..<n where lo < hi {
                            let xs = xp + (image * c + ch) * plane, dys = dyp + (image * c + ch) * p
                            for oy in 0..<geo.outHeight {
                                let iy = oy * geo.strideH - geo.padTop + ky * geo.dilationH
                                guard iy >= 0 && iy < geo.height else { continue }
                                let at = iy * geo.width + offset, d = dys + oy * geo.outWidth
                                if geo.strideW == 1 {
                                    let xr = xs + at
                                    if dwp != nil { dot(d + lo, xr + lo, hi - lo, &acc, &tail) }
                                    if let dxp {
                                        let o = dxp + (image * c + ch) * plane + at
                                        for ox in lo..<hi { o[ox] += weight * d[ox] }
                                    }
                                } else {
                                    let s = geo.strideW, xr = xs + at
                                    if dwp != nil { for ox in lo..<hi { tail += d[ox] * xr[ox * s] } }
                                    if let dxp {
                                        let o = dxp + (image * c + ch) * plane + at
                                        for ox in lo..<hi { o[ox * s] += weight * d[ox] }
                                    }
                                }
                            }
                        }
                        dwp?[ch * taps + tap] = acc.sum() + tail
                    }
                }
            }
        }
    }

    /// Adds Σ a[i] · b[i] to `acc` (eight lanes) and `tail` (the remainder).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int,
                    _ acc: inout SIMD8<Float>, _ tail: inout Float) {
        var i = 0
        while i + 8 <= count {
            let va = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let vb = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            acc.addProduct(va, vb)
            i += 8
        }
        while i < count { tail += a[i] * b[i]; i += 1 }
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
        let db = g.wants(2) ? try biasGradient(dy, channels: m, threads: g.threads) : nil
        return [dx, dw, db]
    }

    /// Σ over images and positions of dY, per channel (channels split over the threads).
    static func biasGradient(_ dy: RuntimeTensor, channels: Int, threads: Int = 1) throws -> RuntimeTensor {
        let db = try RuntimeTensor.uninitialized([channels])
        let plane = dy.shape[2...].reduce(1, *), p = dy.floatPointer, out = db.floatPointer, n = dy.shape[0]
        RuntimeParallel.chunks(channels, threads: threads, cost: n * plane) { r in
            for ch in r {
                var acc = SIMD8<Float>(), tail: Float = 0
                for image in 0..<n {
                    let base = p + (image * channels + ch) * plane
                    var i = 0
                    while i + 8 <= plane {
                        acc += UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
                        i += 8
                    }
                    while i < plane { tail += base[i]; i += 1 }
                }
                out[ch] = acc.sum() + tail
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
