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
