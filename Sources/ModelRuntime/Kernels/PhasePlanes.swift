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
        // A plane's cost: its sums, plus splitting its input into the phases and copying the grid
        // out, which took longer than the sums on MobileNetV3's 72-channel stride-2 layer.
        parallelChunks(l.batch * l.outChannels, threads: threads, cost: gridCount * kvol + 4 * (IH * IW + OH * OW)) { planes in
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
