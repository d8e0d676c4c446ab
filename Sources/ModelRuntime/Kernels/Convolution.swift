#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sizes of a grouped convolution: x is [batch, inChannels, input…], w is
/// [outChannels, inChannels/groups, kernel…], y is [batch, outChannels, output…].
struct ConvLayout {
    var batch: Int, inChannels: Int, outChannels: Int, groups: Int
    var geometry: WindowGeometry
    /// Floats of im2col scratch to aim for: 128 KB bands stay in L2 between im2col and the GEMM
    /// (measured on the VGG-style fixture: 2^15 beat 2^16, 2^17 and the whole image).
    var scratchBudget = 1 << 15

    var inPerGroup: Int { inChannels / groups }
    var outPerGroup: Int { outChannels / groups }
    /// 1×1, stride 1, unpadded: the image itself is the column matrix.
    var isPointwise: Bool {
        let g = geometry
        return g.kernelVolume == 1 && g.stride == [1, 1, 1] && g.padBegin == [0, 0, 0] && g.padEnd == [0, 0, 0]
    }
    var isDepthwise: Bool { groups > 1 && groups == inChannels }
    /// Output rows ((od, oh) pairs) unfolded at a time, keeping im2col scratch near the budget
    /// however large the image.
    var rowsPerChunk: Int {
        let perRow = max(1, inPerGroup * geometry.kernelVolume * geometry.output[2])
        return max(1, min(geometry.output[0] * geometry.output[1], scratchBudget / perRow))
    }
    /// Floats of im2col scratch one worker needs (0 when none is).
    var scratchPerWorker: Int {
        isPointwise || isDepthwise ? 0 : inPerGroup * geometry.kernelVolume * geometry.output[2] * rowsPerChunk
    }
    /// Images run side by side, one per thread: the per-image matrices of small CNNs are too
    /// small to split. A single image uses every thread inside im2col and the GEMM instead.
    func workers(threads: Int) -> Int { batch > 1 ? max(1, min(threads, batch)) : 1 }
    /// Whether `convolution` takes the direct kernel (`DirectConvolution`) rather than im2col.
    var isDirect: Bool { !isDepthwise && DirectConvolution.applies(to: self) }
    /// Floats of scratch `convolution` needs with `threads` threads (`direct`: the direct kernel's
    /// plan when the caller kept it).
    func scratchCount(threads: Int, direct: DirectConvolution? = nil) -> Int {
        if isDirect { return (direct ?? DirectConvolution(self)).scratchCount(workers: workers(threads: threads)) }
        return scratchPerWorker * workers(threads: threads)
    }
}

/// Convolution through im2col and sgemm per image and group, each image finished by `epilogue`
/// while in cache; depthwise convolutions take the direct kernel. `scratch` holds
/// `layout.scratchCount(threads:)` floats; `direct` is the direct kernel's plan when the caller
/// kept it.
func convolution(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, packed: UnsafePointer<Float>? = nil,
                 direct: DirectConvolution? = nil, _ epilogue: ConvEpilogue, _ y: UnsafeMutablePointer<Float>, _ l: ConvLayout,
                 scratch: UnsafeMutablePointer<Float>?, threads: Int) {
    if l.isDepthwise {
        depthwiseConvolution(x, w, epilogue, y, l, threads: threads)
        return
    }
    if l.isDirect {
        (direct ?? DirectConvolution(l)).run(x, w, packed: packed, epilogue, y, scratch: scratch!, threads: threads)
        return
    }
    let workers = l.workers(threads: threads)
    if workers == 1 {
        for n in 0..<l.batch { convolveImage(n, x, w, epilogue, y, l, scratch: scratch, threads: threads) }
        return
    }
    parallelWorkers(l.batch, workers: workers) { worker, images in
        let mine = scratch.map { $0 + worker * l.scratchPerWorker }
        for n in images { convolveImage(n, x, w, epilogue, y, l, scratch: mine, threads: 1) }
    }
}

/// One image of `convolution`: every group's GEMM, then the epilogue on its output channels.
@inline(__always)
private func convolveImage(_ n: Int, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ epilogue: ConvEpilogue,
                           _ y: UnsafeMutablePointer<Float>, _ l: ConvLayout, scratch: UnsafeMutablePointer<Float>?,
                           threads: Int) {
    let g = l.geometry
    let kdim = l.inPerGroup * g.kernelVolume, ovol = g.outputVolume, ivol = g.inputVolume
    for grp in 0..<l.groups {
        let image = x + (n * l.inChannels + grp * l.inPerGroup) * ivol
        let weights = w + grp * l.outPerGroup * kdim
        let out = y + (n * l.outChannels + grp * l.outPerGroup) * ovol
        if l.isPointwise {
            sgemm(m: l.outPerGroup, n: ovol, k: kdim, weights, lda: kdim, image, ldb: ovol, out, ldc: ovol, threads: threads)
            continue
        }
        // Unfold a band of output rows at a time and multiply it into Y's matching columns.
        let totalRows = g.output[0] * g.output[1], OW = g.output[2]
        var start = 0
        while start < totalRows {
            let rows = start..<min(totalRows, start + l.rowsPerChunk)
            im2col(image, channels: l.inPerGroup, g, rows: rows, scratch!, threads: threads)
            let width = rows.count * OW
            sgemm(m: l.outPerGroup, n: width, k: kdim, weights, lda: kdim, scratch!, ldb: width,
                  out + rows.lowerBound * OW, ldc: ovol, threads: threads)
            start = rows.upperBound
        }
    }
    if !epilogue.isIdentity {
        let out = y + n * l.outChannels * ovol
        parallelFor(l.outChannels, threads: threads, cost: ovol) { c in epilogue.apply(out + c * ovol, image: n, channel: c, count: ovol) }
    }
}

/// y[n, c, :] += bias[c].
func addChannelBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, batch: Int, channels: Int,
                    spatial: Int, threads: Int) {
    parallelFor(batch * channels, threads: threads, cost: spatial) { row in
        let b = bias[row % channels], bv = F8(repeating: b)
        let p = y + row * spatial
        var i = 0
        while i + 8 <= spatial { store8(load8(p + i) + bv, p + i); i += 8 }
        while i < spatial { p[i] += b; i += 1 }
    }
}

/// Direct depthwise convolution (groups == input channels), each plane finished by `epilogue`.
func depthwiseConvolution(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ epilogue: ConvEpilogue,
                          _ y: UnsafeMutablePointer<Float>, _ l: ConvLayout, threads: Int) {
    let g = l.geometry
    if g.input[0] == 1 && g.output[0] == 1 && g.kernel[0] == 1 {
        PhasePlanes(g).convolve(x, w, epilogue, y, l, threads: threads)
        return
    }
    let kvol = g.kernelVolume, ovol = g.outputVolume, ivol = g.inputVolume
    let multiplier = l.outChannels / l.inChannels
    let (IH, IW) = (g.input[1], g.input[2]), (OH, OW) = (g.output[1], g.output[2])
    let (KH, KW) = (g.kernel[1], g.kernel[2])
    let sw = g.stride[2]
    parallelFor(l.batch * l.outChannels, threads: threads, cost: ovol * kvol) { plane in
        let n = plane / l.outChannels, m = plane % l.outChannels
        let out = y + plane * ovol
        out.initialize(repeating: 0, count: ovol)
        let src = x + (n * l.inChannels + m / multiplier) * ivol
        for tap in 0..<kvol {
            var t = tap
            let kw = t % KW; t /= KW
            let kh = t % KH, kd = t / KH
            let wv = w[m * kvol + tap]
            let offD = kd * g.dilation[0], offH = kh * g.dilation[1], offW = kw * g.dilation[2]
            let rd = g.validRange(0, offset: offD), rh = g.validRange(1, offset: offH), rw = g.validRange(2, offset: offW)
            if rw.isEmpty { continue }
            for od in rd {
                let id = od * g.stride[0] - g.padBegin[0] + offD
                for oh in rh {
                    let ih = oh * g.stride[1] - g.padBegin[1] + offH
                    let line = src + (id * IH + ih) * IW - g.padBegin[2] + offW
                    let row = out + (od * OH + oh) * OW
                    if sw == 1 {
                        for ow in rw { row[ow] += wv * line[ow] }
                    } else {
                        for ow in rw { row[ow] += wv * line[ow * sw] }
                    }
                }
            }
        }
        epilogue.apply(out, image: n, channel: m, count: ovol)
    }
}

/// Transposed convolution: per image and group, columns = Wᵀ·X, folded onto Y by col2im.
/// `l.geometry` is the geometry of the forward convolution whose input is Y and output is X.
/// `scratch` holds outPerGroup·kernelVolume·(X's spatial volume) floats.
func transposedConvolution(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                           _ y: UnsafeMutablePointer<Float>, _ l: ConvLayout, scratch: UnsafeMutablePointer<Float>,
                           threads: Int) {
    let g = l.geometry
    let xvol = g.outputVolume, yvol = g.inputVolume, kvol = g.kernelVolume
    let rows = l.outPerGroup * kvol
    y.initialize(repeating: 0, count: l.batch * l.outChannels * yvol)
    for n in 0..<l.batch {
        for grp in 0..<l.groups {
            // W is [inChannels, outPerGroup·kvol]: this group's block, transposed.
            sgemm(transA: true, m: rows, n: xvol, k: l.inPerGroup, w + grp * l.inPerGroup * rows, lda: rows,
                  x + (n * l.inChannels + grp * l.inPerGroup) * xvol, ldb: xvol, scratch, ldc: xvol, threads: threads)
            col2im(scratch, channels: l.outPerGroup, g, y + (n * l.outChannels + grp * l.outPerGroup) * yvol,
                   threads: threads)
        }
    }
    if let bias { addChannelBias(y, bias, batch: l.batch, channels: l.outChannels, spatial: yvol, threads: threads) }
}
