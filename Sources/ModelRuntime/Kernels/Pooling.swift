/// For each output position along one axis, the kernel taps [lo, hi) that land inside the input,
/// and the number of taps inside the padded input (for count_include_pad).
struct TapRanges {
    var lo: [Int] = [], hi: [Int] = [], padded: [Int] = []

    init(_ g: WindowGeometry, axis a: Int) {
        for o in 0..<g.output[a] {
            let start = o * g.stride[a] - g.padBegin[a]
            var l = g.kernel[a], h = 0, p = 0
            for k in 0..<g.kernel[a] {
                let i = start + k * g.dilation[a]
                if i >= 0 && i < g.input[a] { l = min(l, k); h = k + 1 }
                if i >= -g.padBegin[a] && i < g.input[a] + g.padEnd[a] { p += 1 }
            }
            lo.append(min(l, h)); hi.append(h); padded.append(p)
        }
    }
}

/// Max pooling over `planes` planes; `indices` (optional) receives each maximum's flat index in
/// the whole input (row-major, or column-major over H and W when `columnMajor`).
func maxPool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int64>?,
             planes: Int, _ g: WindowGeometry, columnMajor: Bool = false, threads: Int) {
    let td = TapRanges(g, axis: 0), th = TapRanges(g, axis: 1), tw = TapRanges(g, axis: 2)
    let ivol = g.inputVolume, ovol = g.outputVolume
    let (IH, IW) = (g.input[1], g.input[2]), (OH, OW) = (g.output[1], g.output[2])
    parallelFor(planes, threads: threads, cost: ovol * g.kernelVolume) { p in
        let src = x + p * ivol, dst = y + p * ovol
        for od in 0..<g.output[0] {
            for oh in 0..<OH {
                for ow in 0..<OW {
                    var best = -Float.infinity, at = -1
                    for kd in td.lo[od]..<td.hi[od] {
                        let id = od * g.stride[0] - g.padBegin[0] + kd * g.dilation[0]
                        for kh in th.lo[oh]..<th.hi[oh] {
                            let ih = oh * g.stride[1] - g.padBegin[1] + kh * g.dilation[1]
                            let base = (id * IH + ih) * IW + ow * g.stride[2] - g.padBegin[2]
                            for kw in tw.lo[ow]..<tw.hi[ow] {
                                let v = src[base + kw * g.dilation[2]]
                                if v > best || at < 0 { best = v; at = base + kw * g.dilation[2] }
                            }
                        }
                    }
                    let o = (od * OH + oh) * OW + ow
                    dst[o] = best
                    if let indices {
                        var flat = at
                        if columnMajor && at >= 0 { flat = (at % IW) * IH + (at / IW) % IH + (at / (IH * IW)) * IH * IW }
                        indices[p * ovol + o] = Int64(p * ivol + flat)
                    }
                }
            }
        }
    }
}

/// Average pooling over `planes` planes. The divisor counts the taps inside the input, or with
/// `countPadding` also those in the explicit padding (never those beyond it, as ceil_mode adds).
func averagePool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, _ g: WindowGeometry,
                 countPadding: Bool, threads: Int) {
    let td = TapRanges(g, axis: 0), th = TapRanges(g, axis: 1), tw = TapRanges(g, axis: 2)
    let ivol = g.inputVolume, ovol = g.outputVolume
    let (IH, IW) = (g.input[1], g.input[2]), (OH, OW) = (g.output[1], g.output[2])
    parallelFor(planes, threads: threads, cost: ovol * g.kernelVolume) { p in
        let src = x + p * ivol, dst = y + p * ovol
        for od in 0..<g.output[0] {
            for oh in 0..<OH {
                for ow in 0..<OW {
                    var sum: Float = 0
                    for kd in td.lo[od]..<td.hi[od] {
                        let id = od * g.stride[0] - g.padBegin[0] + kd * g.dilation[0]
                        for kh in th.lo[oh]..<th.hi[oh] {
                            let ih = oh * g.stride[1] - g.padBegin[1] + kh * g.dilation[1]
                            let base = (id * IH + ih) * IW + ow * g.stride[2] - g.padBegin[2]
                            for kw in tw.lo[ow]..<tw.hi[ow] { sum += src[base + kw * g.dilation[2]] }
                        }
                    }
                    let count = countPadding
                        ? td.padded[od] * th.padded[oh] * tw.padded[ow]
                        : (td.hi[od] - td.lo[od]) * (th.hi[oh] - th.lo[oh]) * (tw.hi[ow] - tw.lo[ow])
                    dst[(od * OH + oh) * OW + ow] = count > 0 ? sum / Float(count) : 0
                }
            }
        }
    }
}

/// Mean or maximum of each of `planes` planes of `size` values.
func globalPool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, size: Int, max: Bool,
                threads: Int) {
    parallelFor(planes, threads: threads, cost: size) { p in
        let src = x + p * size
        if max {
            var m = -Float.infinity
            for i in 0..<size { m = Swift.max(m, src[i]) }
            y[p] = m
        } else {
            var acc = F8(), i = 0
            while i + 8 <= size { acc += load8(src + i); i += 8 }
            var s = acc.sum()
            while i < size { s += src[i]; i += 1 }
            y[p] = s / Float(size)
        }
    }
}
