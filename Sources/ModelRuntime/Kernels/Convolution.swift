#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unfolds one image's `channels` planes into columns: row (c, kd, kh, kw) of `col` holds, for
/// each output position in output rows `rows` (a row is one (od, oh) pair of OW positions), the
/// input value under that kernel tap (0 in the padding).
func im2col(_ x: UnsafePointer<Float>, channels: Int, _ g: WindowGeometry, rows: Range<Int>,
            _ col: UnsafeMutablePointer<Float>, threads: Int) {
    let kvol = g.kernelVolume, ivol = g.inputVolume
    let ovol = rows.count * g.output[2]
    let (ID, IH, IW) = (g.input[0], g.input[1], g.input[2])
    let (OH, OW) = (g.output[1], g.output[2])
    let (KH, KW) = (g.kernel[1], g.kernel[2])
    let sw = g.stride[2]
    let (sd, sh, pd, ph, pw) = (g.stride[0], g.stride[1], g.padBegin[0], g.padBegin[1], g.padBegin[2])
    let (dd, dh, dw) = (g.dilation[0], g.dilation[1], g.dilation[2])
    // 2-D, unit stride, output rows as wide as input rows ("same" padding): a tap's values for a
    // run of output rows are one contiguous stretch of the input plane.
    let shifted = ID == 1 && g.output[0] == 1 && sh == 1 && sw == 1 && OW == IW
    // Per tap, computed once per call rather than per row of the column matrix: the offsets and
    // the output columns and rows whose input lies inside the image.
    let taps: [(offD: Int, offH: Int, offW: Int, rw: Range<Int>, rh: Range<Int>)] = (0..<kvol).map { tap in
        let kw = tap % KW, kh = tap / KW % KH, kd = tap / (KW * KH)
        return (kd * dd, kh * dh, kw * dw, g.validRange(2, offset: kw * dw), g.validRange(1, offset: kh * dh))
    }
    parallelFor(channels * kvol, threads: threads, cost: ovol) { row in
        let c = row / kvol
        let (offD, offH, offW, rw, rh) = taps[row % kvol]
        let dst = col + row * ovol, src = x + c * ivol
        if shifted {
            let lo = Swift.max(rh.lowerBound, rows.lowerBound), hi = Swift.min(rh.upperBound, rows.upperBound)
            guard lo < hi && !rw.isEmpty else { dst.initialize(repeating: 0, count: ovol); return }
            // Output (oh, ow) reads input (oh − ph + offH, ow − pw + offW): flat index + shift.
            let shift = (offH - ph) * IW + offW - pw
            let first = (lo - rows.lowerBound) * OW + rw.lowerBound
            let last = (hi - 1 - rows.lowerBound) * OW + rw.upperBound
            zeroFloats(dst, first)
            copyFloats(dst + first, src + (lo * OW + rw.lowerBound + shift), last - first)
            zeroFloats(dst + last, ovol - last)
            // Between consecutive rows, the columns outside the tap's valid range took the
            // neighbouring row's values: they are padding.
            if rw.count < OW {
                for r in lo..<(hi - 1) {
                    let end = (r - rows.lowerBound) * OW + rw.upperBound
                    zeroFew(dst + end, OW - rw.upperBound + rw.lowerBound)
                }
            }
            return
        }
        for r in rows {
            let od = r / OH, oh = r % OH
            let id = od * sd - pd + offD
            let ih = oh * sh - ph + offH
            let out = dst + (r - rows.lowerBound) * OW
            guard id >= 0 && id < ID && ih >= 0 && ih < IH && !rw.isEmpty else {
                zeroFloats(out, OW)
                continue
            }
            let line = src + (id * IH + ih) * IW - pw + offW
            zeroFloats(out, rw.lowerBound)
            if sw == 1 {
                copyFloats(out + rw.lowerBound, line + rw.lowerBound, rw.count)
            } else if sw == 2 {
                // Even lanes of 16-float blocks, while a block stays inside this channel's plane.
                let available = src + ivol - line
                var ow = rw.lowerBound
                while ow + 8 <= rw.upperBound && 2 * ow + 16 <= available {
                    store8(UnsafeRawPointer(line + 2 * ow).loadUnaligned(as: SIMD16<Float>.self).evenHalf, out + ow)
                    ow += 8
                }
                while ow < rw.upperBound { out[ow] = line[2 * ow]; ow += 1 }
            } else {
                for ow in rw { out[ow] = line[ow * sw] }
            }
            zeroFloats(out + rw.upperBound, OW - rw.upperBound)
        }
    }
}

/// Copies `n` floats with inline vector moves: im2col's runs are short, where a call to memmove
/// costs more than the copy.
@inline(__always)
func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store16(load16(src + i), dst + i); i += 16 }
    if i + 8 <= n { store8(load8(src + i), dst + i); i += 8 }
    if i + 4 <= n {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD4<Float>.self),
                                                    as: SIMD4<Float>.self)
        i += 4
    }
    while i < n { dst[i] = src[i]; i += 1 }
}

/// Zeroes `n` floats where `n` is usually 1 to 4 (the columns a 3×3 or 5×5 tap misses at a row
/// end). Written out so that the compiler does not turn it into a call to memset, whose cost per
/// call dominated im2col when it ran once per output row.
@inline(__always)
func zeroFew(_ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    switch n {
    case 0: break
    case 1: dst[0] = 0
    case 2: dst[0] = 0; dst[1] = 0
    case 3: dst[0] = 0; dst[1] = 0; dst[2] = 0
    case 4: dst[0] = 0; dst[1] = 0; dst[2] = 0; dst[3] = 0
    default: zeroFloats(dst, n)
    }
}

@inline(__always)
func zeroFloats(_ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n { store8(F8(), dst + i); i += 8 }
    while i < n { dst[i] = 0; i += 1 }
}

/// Folds columns back onto one image, summing overlaps: the adjoint of `im2col`. `y` (channels
/// planes of `g.input` size) must be initialized; values are added to it.
func col2im(_ col: UnsafePointer<Float>, channels: Int, _ g: WindowGeometry, _ y: UnsafeMutablePointer<Float>,
            threads: Int) {
    let kvol = g.kernelVolume, ovol = g.outputVolume, ivol = g.inputVolume
    let (IH, IW) = (g.input[1], g.input[2])
    let (OH, OW) = (g.output[1], g.output[2])
    let (KH, KW) = (g.kernel[1], g.kernel[2])
    let sw = g.stride[2]
    parallelFor(channels, threads: threads, cost: kvol * ovol) { c in
        let dstPlane = y + c * ivol
        for tap in 0..<kvol {
            var t = tap
            let kw = t % KW; t /= KW
            let kh = t % KH, kd = t / KH
            let src = col + (c * kvol + tap) * ovol
            let offD = kd * g.dilation[0], offH = kh * g.dilation[1], offW = kw * g.dilation[2]
            let rd = g.validRange(0, offset: offD), rh = g.validRange(1, offset: offH), rw = g.validRange(2, offset: offW)
            for od in rd {
                let id = od * g.stride[0] - g.padBegin[0] + offD
                for oh in rh {
                    let ih = oh * g.stride[1] - g.padBegin[1] + offH
                    let line = dstPlane + (id * IH + ih) * IW - g.padBegin[2] + offW
                    let from = src + (od * OH + oh) * OW
                    for ow in rw { line[ow * sw] += from[ow] }
                }
            }
        }
    }
}

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
    /// Floats of scratch `convolution` needs with `threads` threads.
    func scratchCount(threads: Int) -> Int {
        if isDirect { return DirectConvolution(self).scratchCount(workers: workers(threads: threads)) }
        return scratchPerWorker * workers(threads: threads)
    }
}

/// Convolution through im2col and sgemm per image and group, each image finished by `epilogue`
/// while in cache; depthwise convolutions take the direct kernel. `scratch` holds
/// `layout.scratchCount(threads:)` floats.
func convolution(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, packed: UnsafePointer<Float>? = nil,
                 _ epilogue: ConvEpilogue, _ y: UnsafeMutablePointer<Float>, _ l: ConvLayout,
                 scratch: UnsafeMutablePointer<Float>?, threads: Int) {
    if l.isDepthwise {
        depthwiseConvolution(x, w, epilogue, y, l, threads: threads)
        return
    }
    if l.isDirect {
        DirectConvolution(l).run(x, w, packed: packed, epilogue, y, scratch: scratch!, threads: threads)
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

/// A 2-D (or 1-D) plane split by stride phase, so that every kernel tap becomes one long
/// unit-stride loop. Phase (a, b) holds padded-input rows a, a+sh, … and columns b, b+sw, …, all
/// QW wide (at unit stride, narrower than the padded row: see `init`); output (oh, ow) sits at oh·QW + ow of a QW-wide grid, and tap (kh, kw) at offset
/// (kh·dh, kw·dw) = (qh·sh + a, qw·sw + b) reads phase (a, b) at that grid index + qh·QW + qw.
/// The grid's QW − OW extra columns are computed and dropped. Small planes (28×28, 14×14, 7×7)
/// thus cost a few vector loops per tap instead of one short loop per row and tap.
struct PhasePlanes {
    let g: WindowGeometry
    let (IH, IW, OH, OW, sh, sw, ph, pw): (Int, Int, Int, Int, Int, Int, Int, Int)
    /// Rows and columns of each phase plane (one spare row absorbs the grid's extra columns).
    let QH: Int, QW: Int
    var phaseCount: Int { (QH + 1) * QW }

    init(_ g: WindowGeometry) {
        self.g = g
        (IH, IW, OH, OW) = (g.input[1], g.input[2], g.output[1], g.output[2])
        (sh, sw, ph, pw) = (g.stride[1], g.stride[2], g.padBegin[1], g.padBegin[2])
        let PH = IH + ph + g.padEnd[1], PW = IW + pw + g.padEnd[2]
        QH = (PH + sh - 1) / sh
        if sw == 1 && min(pw, g.padEnd[2]) <= (g.kernel[2] - 1) * g.dilation[2] {
            // Unit stride: rows share their zero columns. A row holds pw zeros, the IW values and
            // max(pw, right pad) − pw zeros; a tap reaching past its row's end reads the next row's
            // leading zeros, so the grid is only max(pw, right pad) wider than the input.
            QW = IW + max(pw, g.padEnd[2])
        } else {
            QW = (PW + sw - 1) / sw
        }
    }

    /// Fills the sh·sw phase planes of one input plane (zeros in the padding). Input value
    /// (ih, iw) goes to phase ((ih + ph) mod sh, (iw + pw) mod sw) at ((ih + ph) / sh, (iw + pw) / sw).
    /// `zeroing: false` leaves the padding cells as they are (callers that reuse the planes for
    /// another plane of the same geometry zero them once).
    func split(_ src: UnsafePointer<Float>, into phases: UnsafeMutablePointer<Float>, zeroing: Bool = true) {
        if zeroing { zeroFloats(phases, sh * sw * phaseCount) }
        if g.kernel[1] == 1 && g.kernel[2] == 1 && (sh > 1 || sw > 1) {
            // A 1×1 kernel reads phase (0, 0) only: every sh-th row's every sw-th value.
            for ih in stride(from: (sh - ph % sh) % sh, to: IH, by: sh) {
                let row = phases + (ih + ph) / sh * QW, line = src + ih * IW
                for iw in stride(from: (sw - pw % sw) % sw, to: IW, by: sw) { row[(iw + pw) / sw] = line[iw] }
            }
            return
        }
        if sh == 1 && sw == 1 {
            var row = phases + ph * QW + pw
            for ih in 0..<IH {
                copyFloats(row, src + ih * IW, IW)
                row += QW
            }
            return
        }
        // Row ih goes to phase row a at index i: counted along rather than divided per row.
        var (a, i) = (ph % sh, ph / sh)
        for ih in 0..<IH {
            defer {
                a += 1
                if a == sh { (a, i) = (0, i + 1) }
            }
            let line = src + ih * IW
            let rows = phases + a * sw * phaseCount + i * QW
            switch sw {
            case 1:
                copyFloats(rows + pw, line, IW)
            case 2:
                // 16 input values with an even (iw + pw) split into 8 of each phase.
                let even = rows, odd = rows + phaseCount
                var iw = 0
                if pw % 2 == 1 { odd[pw / 2] = line[0]; iw = 1 }
                while iw + 16 <= IW {
                    let v = UnsafeRawPointer(line + iw).loadUnaligned(as: SIMD16<Float>.self), j = (iw + pw) / 2
                    store8(v.evenHalf, even + j)
                    store8(v.oddHalf, odd + j)
                    iw += 16
                }
                if iw + 8 <= IW {
                    let v = load8(line + iw), j = (iw + pw) / 2
                    UnsafeMutableRawPointer(even + j).storeBytes(of: v.evenHalf, as: SIMD4<Float>.self)
                    UnsafeMutableRawPointer(odd + j).storeBytes(of: v.oddHalf, as: SIMD4<Float>.self)
                    iw += 8
                }
                // Pairs, then a last even value: no per-element parity test.
                while iw + 2 <= IW { let j = (iw + pw) / 2; even[j] = line[iw]; odd[j] = line[iw + 1]; iw += 2 }
                if iw < IW { even[(iw + pw) / 2] = line[iw] }
            default:
                for iw in 0..<IW { let t = iw + pw; rows[(t % sw) * phaseCount + t / sw] = line[iw] }
            }
        }
    }

    /// Offset of each kernel tap into one plane's phases.
    func tapOffsets(_ g: WindowGeometry) -> [Int] {
        let (KH, KW, dh, dw) = (g.kernel[1], g.kernel[2], g.dilation[1], g.dilation[2])
        return (0..<(KH * KW)).map { tap in
            let kh = tap / KW, kw = tap % KW
            let (qh, a) = (kh * dh / sh, kh * dh % sh), (qw, b) = (kw * dw / sw, kw * dw % sw)
            return (a * sw + b) * phaseCount + qh * QW + qw
        }
    }

    /// Depthwise convolution over the phases: per block of up to 4 vectors of grid positions,
    /// every tap is summed and the epilogue applied in registers, then the grid's rows are
    /// cropped into Y.
    func convolve(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ epilogue: ConvEpilogue,
                  _ y: UnsafeMutablePointer<Float>, _ l: ConvLayout, threads: Int) {
        let offsets = tapOffsets(g), kvol = offsets.count, multiplier = l.outChannels / l.inChannels
        let gridCount = OH * QW, gridStride = (gridCount + 15) & ~15
        // The last vectors of the grid read up to the largest tap offset past it.
        let phasesCount = max(sh * sw * phaseCount, (offsets.max() ?? 0) + gridStride)
        let finish = epilogue.finish(groups: 1, perGroup: l.outChannels, width: l.outChannels), rule = finish.rule
        offsets.withUnsafeBufferPointer { offsets in
        parallelChunks(l.batch * l.outChannels, threads: threads, cost: gridCount * kvol) { planes in
            let phases = UnsafeMutablePointer<Float>.allocate(capacity: phasesCount)
            let grid = UnsafeMutablePointer<Float>.allocate(capacity: gridStride)
            defer { phases.deallocate(); grid.deallocate() }
            // Every plane has the same padding cells: zero them once.
            zeroFloats(phases, phasesCount)
            var splitFrom = -1
            for plane in planes {
                let n = plane / l.outChannels, m = plane % l.outChannels
                let input = n * l.inChannels + m / multiplier
                if input != splitFrom { split(x + input * IH * IW, into: phases, zeroing: false); splitFrom = input }
                let weights = w + m * kvol
                let s = F16(repeating: finish.scale[m]), t = F16(repeating: finish.shift[m])
                var p = 0
                while p < gridStride {
                    let vectors = min(4, (gridStride - p) / 16)
                    switch vectors {
                    case 4: Self.block(Four.self, phases + p, offsets.baseAddress!, kvol, weights, grid + p, rule, s, t)
                    case 3: Self.block(Three.self, phases + p, offsets.baseAddress!, kvol, weights, grid + p, rule, s, t)
                    case 2: Self.block(Two.self, phases + p, offsets.baseAddress!, kvol, weights, grid + p, rule, s, t)
                    default: Self.block(One.self, phases + p, offsets.baseAddress!, kvol, weights, grid + p, rule, s, t)
                    }
                    p += 16 * vectors
                }
                let out = y + plane * OH * OW
                if QW == OW {
                    copyFloats(out, grid, OH * OW)
                } else {
                    for oh in 0..<OH { copyFloats(out + oh * OW, grid + oh * QW, OW) }
                }
                epilogue.finished(out, image: n, channel: m, count: OH * OW)
            }
        }
        }
    }

    /// `V.count` vectors of grid positions summed over every tap in registers, finished by `rule`
    /// with the channel's scale `s` and shift `t`.
    @inline(__always)
    private static func block<V: VectorCount>(_: V.Type, _ phases: UnsafePointer<Float>, _ offsets: UnsafePointer<Int>,
                                              _ taps: Int, _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                              _ rule: FinishRule, _ s: F16, _ t: F16) {
        var a0 = F16(), a1 = F16(), a2 = F16(), a3 = F16()
        for t in 0..<taps {
            let p = phases + offsets[t], wv = F16(repeating: w[t])
            a0 = a0.addingProduct(load16(p), wv)
            if V.count > 1 { a1 = a1.addingProduct(load16(p + 16), wv) }
            if V.count > 2 { a2 = a2.addingProduct(load16(p + 32), wv) }
            if V.count > 3 { a3 = a3.addingProduct(load16(p + 48), wv) }
        }
        store16(rule(a0, s, t), out)
        if V.count > 1 { store16(rule(a1, s, t), out + 16) }
        if V.count > 2 { store16(rule(a2, s, t), out + 32) }
        if V.count > 3 { store16(rule(a3, s, t), out + 48) }
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
