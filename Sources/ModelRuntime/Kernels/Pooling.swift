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
    if let indices {
        maxPoolWithIndices(x, y, indices: indices, planes: planes, g, columnMajor: columnMajor, threads: threads)
    } else if PairPooling(g) != nil {
        maxPool2x2(x, y, planes: planes, g, threads: threads)
    } else if isUnitStridePlane(g) {
        paddedPlanePool(x, y, planes: planes, g, max: true, countPadding: false, threads: threads)
    } else {
        windowPool(x, y, planes: planes, g, max: true, countPadding: false, threads: threads)
    }
}

/// Average pooling over `planes` planes. The divisor counts the taps inside the input, or with
/// `countPadding` also those in the explicit padding (never those beyond it, as ceil_mode adds).
func averagePool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, _ g: WindowGeometry,
                 countPadding: Bool, threads: Int) {
    if isUnitStridePlane(g) {
        paddedPlanePool(x, y, planes: planes, g, max: false, countPadding: countPadding, threads: threads)
    } else {
        windowPool(x, y, planes: planes, g, max: false, countPadding: countPadding, threads: threads)
    }
}

/// 1-D or 2-D pooling with stride 1 (e.g. Inception's 3×3 "same" max pooling).
func isUnitStridePlane(_ g: WindowGeometry) -> Bool {
    g.input[0] == 1 && g.kernel[0] == 1 && g.padBegin[0] == 0 && g.padEnd[0] == 0 && g.stride == [1, 1, 1]
}

/// Stride-1 pooling on a copy of each plane surrounded by its padding (−∞ for max, 0 for average).
/// Output position (oh, ow) then sits at oh·PW + ow of a PW-wide grid, and each kernel tap is one
/// contiguous run over the whole grid, shifted by kh·dh·PW + kw·dw: a few long vector loops per
/// plane instead of a short one per row and tap. The grid's PW − OW extra columns are dropped.
func paddedPlanePool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, _ g: WindowGeometry,
                     max: Bool, countPadding: Bool, threads: Int) {
    let (IH, IW) = (g.input[1], g.input[2]), (OH, OW) = (g.output[1], g.output[2])
    let (KH, KW) = (g.kernel[1], g.kernel[2]), (dh, dw) = (g.dilation[1], g.dilation[2])
    let (ph, pw) = (g.padBegin[1], g.padBegin[2])
    let PH = IH + ph + g.padEnd[1], PW = IW + pw + g.padEnd[2]
    // The grid is OH·PW long; its last row's extra columns read up to (KW − 1)·dw past the padded plane.
    let gridCount = OH * PW, paddedCount = PH * PW + (KW - 1) * dw
    let fill: Float = max ? -.infinity : 0
    var divisor: [Float] = []
    if !max {
        let th = TapRanges(g, axis: 1), tw = TapRanges(g, axis: 2)
        divisor = (0..<OH * OW).map { k in
            let (oh, ow) = (k / OW, k % OW)
            return Float(countPadding ? th.padded[oh] * tw.padded[ow] : (th.hi[oh] - th.lo[oh]) * (tw.hi[ow] - tw.lo[ow]))
        }
    }
    parallelChunks(planes, threads: threads, cost: gridCount * KH * KW) { chunk in
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: paddedCount)
        let grid = UnsafeMutablePointer<Float>.allocate(capacity: gridCount)
        defer { padded.deallocate(); grid.deallocate() }
        padded.initialize(repeating: fill, count: paddedCount)
        for p in chunk {
            let src = x + p * IH * IW
            for ih in 0..<IH { (padded + (ih + ph) * PW + pw).update(from: src + ih * IW, count: IW) }
            grid.initialize(repeating: fill, count: gridCount)
            for kh in 0..<KH {
                for kw in 0..<KW {
                    let from = UnsafePointer(padded + kh * dh * PW + kw * dw)
                    max ? maxRow(grid, from, gridCount) : addRow(grid, from, gridCount)
                }
            }
            let dst = y + p * OH * OW
            for oh in 0..<OH {
                let row = dst + oh * OW, cells = grid + oh * PW
                if max {
                    row.update(from: cells, count: OW)
                } else {
                    for ow in 0..<OW {
                        let d = divisor[oh * OW + ow]
                        row[ow] = d > 0 ? cells[ow] / d : 0
                    }
                }
            }
        }
    }
}

/// The common 2×2, stride 2 max pooling whose windows all lie inside the input (no padding to
/// look at): each output row reads two input rows in 16-float blocks and splits even and odd lanes.
struct PairPooling {
    init?(_ g: WindowGeometry) {
        guard g.kernel == [1, 2, 2], g.stride == [1, 2, 2], g.dilation == [1, 1, 1], g.padBegin == [0, 0, 0],
              2 * g.output[1] <= g.input[1], 2 * g.output[2] <= g.input[2], g.output[0] == g.input[0] else { return nil }
    }
}

func maxPool2x2(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, _ g: WindowGeometry,
                threads: Int) {
    let (IH, IW) = (g.input[1], g.input[2]), (OH, OW) = (g.output[1], g.output[2])
    let depth = g.output[0]
    parallelFor(planes * depth, threads: threads, cost: OH * OW * 4) { p in
        let src = x + p * IH * IW, dst = y + p * OH * OW
        for oh in 0..<OH {
            let a = src + 2 * oh * IW, b = a + IW, out = dst + oh * OW
            var ow = 0
            // A 16-float block starting at 2·ow must stay inside the input row.
            while ow + 8 <= OW && 2 * ow + 16 <= IW {
                let ra = UnsafeRawPointer(a + 2 * ow).loadUnaligned(as: SIMD16<Float>.self)
                let rb = UnsafeRawPointer(b + 2 * ow).loadUnaligned(as: SIMD16<Float>.self)
                store8(greater(greater(ra.evenHalf, ra.oddHalf), greater(rb.evenHalf, rb.oddHalf)), out + ow)
                ow += 8
            }
            while ow < OW {
                let i = 2 * ow
                out[ow] = Swift.max(Swift.max(a[i], a[i + 1]), Swift.max(b[i], b[i + 1]))
                ow += 1
            }
        }
    }
}

/// Lane-wise `b > a ? b : a`, the comparison max pooling uses (one instruction).
@inline(__always)
func greater(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: b .> a) }

/// Window pooling computed tap by tap: each output row starts at −∞ (max) or 0 (average) and
/// takes in, for every kernel tap, the contiguous run of input values under that tap, so the
/// inner loop is a vectorised row operation rather than a scalar walk over each window.
func windowPool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, _ g: WindowGeometry,
                max: Bool, countPadding: Bool, threads: Int) {
    let td = TapRanges(g, axis: 0), th = TapRanges(g, axis: 1), tw = TapRanges(g, axis: 2)
    let ivol = g.inputVolume, ovol = g.outputVolume
    let (IH, IW) = (g.input[1], g.input[2]), (OD, OH, OW) = (g.output[0], g.output[1], g.output[2])
    let (sd, sh, sw) = (g.stride[0], g.stride[1], g.stride[2])
    let (dd, dh, dw) = (g.dilation[0], g.dilation[1], g.dilation[2])
    let (pd, ph, pw) = (g.padBegin[0], g.padBegin[1], g.padBegin[2])
    let KW = g.kernel[2]
    // Per tap along W: the output positions it reaches inside the input.
    let wRanges = (0..<KW).map { g.validRange(2, offset: $0 * dw) }
    // Per output position along W: its taps counted in the average's divisor.
    let wCount: [Float] = (0..<OW).map { Float(countPadding ? tw.padded[$0] : tw.hi[$0] - tw.lo[$0]) }
    parallelFor(planes, threads: threads, cost: ovol * g.kernelVolume) { p in
        let src = x + p * ivol, dst = y + p * ovol
        for od in 0..<OD {
            for oh in 0..<OH {
                let row = dst + (od * OH + oh) * OW
                row.initialize(repeating: max ? -Float.infinity : 0, count: OW)
                for kd in td.lo[od]..<td.hi[od] {
                    let id = od * sd - pd + kd * dd
                    for kh in th.lo[oh]..<th.hi[oh] {
                        let ih = oh * sh - ph + kh * dh
                        let line = src + (id * IH + ih) * IW - pw
                        for kw in 0..<KW {
                            let r = wRanges[kw]
                            if r.isEmpty { continue }
                            let from = line + kw * dw + r.lowerBound * sw, to = row + r.lowerBound
                            if max {
                                sw == 1 ? maxRow(to, from, r.count) : maxRow(to, from, r.count, stride: sw)
                            } else {
                                sw == 1 ? addRow(to, from, r.count) : addRow(to, from, r.count, stride: sw)
                            }
                        }
                    }
                }
                if !max {
                    let outer = countPadding ? td.padded[od] * th.padded[oh] : (td.hi[od] - td.lo[od]) * (th.hi[oh] - th.lo[oh])
                    for ow in 0..<OW {
                        let count = Float(outer) * wCount[ow]
                        row[ow] = count > 0 ? row[ow] / count : 0
                    }
                }
            }
        }
    }
}

@inline(__always)
private func maxRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n { store8(greater(load8(y + i), load8(x + i)), y + i); i += 8 }
    if i + 4 <= n {
        let a = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD4<Float>.self)
        let b = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD4<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: a.replacing(with: b, where: b .> a), as: SIMD4<Float>.self)
        i += 4
    }
    // Branch-free: rows here are short, and a mispredicted branch per element costs more than a blend.
    while i < n { let v = x[i]; y[i] = v > y[i] ? v : y[i]; i += 1 }
}

/// y[i] = max(y[i], x[i·s]). At stride 2 (a 3×3 stride-2 stem pooling), 8 outputs at a time
/// from the even lanes of 16 loaded values; the vector loop stops while its last load still ends
/// before x's last element read, so it never reads past the row's valid range.
@inline(__always)
private func maxRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, stride s: Int) {
    var i = 0
    if s == 2 {
        while i + 8 < n { store8(greater(load8(y + i), load16(x + 2 * i).evenHalf), y + i); i += 8 }
    }
    while i < n { let v = x[i * s]; y[i] = v > y[i] ? v : y[i]; i += 1 }
}

@inline(__always)
private func addRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n { store8(load8(y + i) + load8(x + i), y + i); i += 8 }
    while i < n { y[i] += x[i]; i += 1 }
}

/// y[i] += x[i·s], at stride 2 as `maxRow` does it.
@inline(__always)
private func addRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, stride s: Int) {
    var i = 0
    if s == 2 {
        while i + 8 < n { store8(load8(y + i) + load16(x + 2 * i).evenHalf, y + i); i += 8 }
    }
    while i < n { y[i] += x[i * s]; i += 1 }
}

/// Max pooling that also records where each maximum came from (a scalar walk over each window).
func maxPoolWithIndices(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        indices: UnsafeMutablePointer<Int64>, planes: Int, _ g: WindowGeometry, columnMajor: Bool,
                        threads: Int) {
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
                    var flat = at
                    if columnMajor && at >= 0 { flat = (at % IW) * IH + (at / IW) % IH + (at / (IH * IW)) * IH * IW }
                    indices[p * ovol + o] = Int64(p * ivol + flat)
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
