import ModelIR

/// The channel-blocked layout ("NCHW16c") that chains of convolutions keep between them.
///
/// A float32 [N, C, H, W] tensor is stored as [N, ⌈C/16⌉, H, W, 16]: the 16 channels of a block
/// sit side by side at every position (when C is not a multiple of 16, the last block is padded;
/// only convolutions hand such tensors to each other, see `paddedChannels`). A convolution then computes 16 output
/// channels in one vector at each output position, broadcasting one input value at a time, so no
/// lane is wasted on small feature maps (a 7×7 map fills 49 of 64 lanes when vectors run along
/// positions) and padding, strides and depthwise filters cost no plane copies or crops. Pooling,
/// element-wise operators and channel concatenation work on the blocked storage directly.
///
/// The interpreter decides which outputs are blocked (`Interpreter` plans it from the readers of
/// each output) and converts to plain NCHW wherever a reader needs it; `RuntimeTensor.blocked`
/// marks such tensors.
enum BlockedLayout {
    static let lanes = 16

    /// Whether a tensor of `shape` fills whole blocks (no padded last block).
    static func fits(_ shape: [Int]) -> Bool { shape.count == 4 && shape[1] % lanes == 0 && shape[1] > 0 }

    /// `c` channels rounded up to whole blocks. A convolution may write (and the next convolution
    /// read) C channels that are not a multiple of 16 in ⌈C/16⌉ blocks, the last one padded: its
    /// extra lanes hold finite values that no reader uses (`Interpreter.planBlockedLayout` hands
    /// such a tensor only to convolutions, which read C channels; everything else gets it plain).
    static func paddedChannels(_ c: Int) -> Int { (c + lanes - 1) / lanes * lanes }

    /// Whether a blocked tensor of `shape` has a padded last block.
    static func isPadded(_ shape: [Int]) -> Bool { shape.count == 4 && shape[1] % lanes != 0 }

    /// `x` (plain NCHW) in the blocked layout, in a new tensor from `ctx`'s arena; a padded last
    /// block gets zeros in its extra lanes.
    static func blocked(_ x: RuntimeTensor, _ ctx: ExecContext) throws -> RuntimeTensor {
        precondition(!x.blocked && x.rank == 4 && x.shape[1] > 0 && x.elementType == .float32)
        let y = try ctx.blockedFloats(x.shape)
        reorder(x, into: y, toBlocked: true, threads: ctx.threads)
        return y
    }

    /// `x` (blocked) in plain NCHW, in a new tensor from `ctx`'s arena.
    static func planar(_ x: RuntimeTensor, _ ctx: ExecContext) throws -> RuntimeTensor {
        precondition(x.blocked && x.rank == 4)
        let y = try ctx.floats(x.shape)
        reorder(x, into: y, toBlocked: false, threads: ctx.threads)
        return y
    }

    /// Copies each group of 16 channels between the plain order (channel, position) and the
    /// blocked one (position, channel).
    private static func reorder(_ x: RuntimeTensor, into y: RuntimeTensor, toBlocked: Bool, threads: Int) {
        let (n, c, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        // Floats between lanes and between positions, in the plain and the blocked order.
        let (plainLane, blockedPosition) = (plane, lanes)
        let (fromLane, fromPosition) = toBlocked ? (plainLane, 1) : (1, blockedPosition)
        let (toLane, toPosition) = toBlocked ? (1, blockedPosition) : (plainLane, 1)
        let (src, dst) = (x.f, y.f)
        // Block b of an image starts at channel 16·b in the plain order; a padded last block
        // (see `paddedChannels`) holds fewer channels.
        let blocks = paddedChannels(c) / lanes
        parallelFor(n * blocks, threads: threads, cost: plane * lanes) { b in
            let (image, block) = (b / blocks, b % blocks)
            let plain = (image * c + block * lanes) * plane, blocked = b * lanes * plane
            let from = src + (toBlocked ? plain : blocked), to = dst + (toBlocked ? blocked : plain)
            let filled = min(lanes, c - block * lanes)
            for lane in 0..<filled {
                let s = from + lane * fromLane, d = to + lane * toLane
                for p in 0..<plane { d[p * toPosition] = s[p * fromPosition] }
            }
            if toBlocked {
                for lane in filled..<lanes { for p in 0..<plane { to[p * lanes + lane] = 0 } }
            }
        }
    }

    /// MaxPool or AveragePool over a blocked [N, C, H, W] input (2-D windows) into a blocked
    /// output of `g`'s size. The same windows, order of additions and divisors as `maxPool` and
    /// `averagePool`, so the values are identical.
    static func pool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, blocks: Int, _ g: WindowGeometry,
                     max: Bool, countPadding: Bool, threads: Int) {
        let (IH, IW, OH, OW) = (g.input[1], g.input[2], g.output[1], g.output[2])
        let (sh, sw, dh, dw) = (g.stride[1], g.stride[2], g.dilation[1], g.dilation[2])
        let (ph, pw) = (g.padBegin[1], g.padBegin[2])
        if max && PairPooling(g) != nil {
            // 2×2, stride 2, inside the input: the maximum of four vectors, paired as `maxPool2x2` pairs them.
            @inline(__always) func greater(_ a: F16, _ b: F16) -> F16 { a.replacing(with: b, where: b .> a) }
            parallelFor(blocks * OH, threads: threads, cost: OW * 4 * lanes) { k in
                let (b, oh) = (k / OH, k % OH)
                let top = x + (b * IH + 2 * oh) * IW * lanes, bottom = top + IW * lanes
                let dst = y + (b * OH + oh) * OW * lanes
                for ow in 0..<OW {
                    let a = top + 2 * ow * lanes, c = bottom + 2 * ow * lanes
                    store16(greater(greater(load16(a), load16(a + lanes)), greater(load16(c), load16(c + lanes))), dst + ow * lanes)
                }
            }
            return
        }
        let th = TapRanges(g, axis: 1), tw = TapRanges(g, axis: 2)
        // Per output: the first input vector of its window and its taps' ranges, once per call;
        // the divisor of each average.
        let (rowLo, rowHi, colLo, colHi) = (th.lo, th.hi, tw.lo, tw.hi)
        let divisors: [Float] = max ? [] : (0..<(OH * OW)).map { k in
            let (oh, ow) = (k / OW, k % OW)
            return Float(countPadding ? th.padded[oh] * tw.padded[ow] : (th.hi[oh] - th.lo[oh]) * (tw.hi[ow] - tw.lo[ow]))
        }
        parallelFor(blocks, threads: threads, cost: OH * OW * g.kernelVolume * lanes) { b in
            let src = x + b * IH * IW * lanes, dst = y + b * OH * OW * lanes
            for oh in 0..<OH {
                let rowBase = oh * sh - ph, (khLo, khHi) = (rowLo[oh], rowHi[oh])
                for ow in 0..<OW {
                    let colBase = ow * sw - pw, (kwLo, kwHi) = (colLo[ow], colHi[ow])
                    var acc = F16(repeating: max ? -.infinity : 0)
                    var kh = khLo
                    while kh < khHi {
                        let row = src + ((rowBase + kh * dh) * IW + colBase) * lanes
                        var kw = kwLo
                        while kw < kwHi {
                            let v = load16(row + kw * dw * lanes)
                            acc = max ? acc.replacing(with: v, where: v .> acc) : acc + v
                            kw += 1
                        }
                        kh += 1
                    }
                    if !max {
                        let d = divisors[oh * OW + ow]
                        acc = d > 0 ? acc / F16(repeating: d) : F16()
                    }
                    store16(acc, dst + (oh * OW + ow) * lanes)
                }
            }
        }
    }

    /// GlobalAveragePool or GlobalMaxPool over a blocked input: the [N, C, 1, 1] result is the
    /// same whichever the layout, so it is written plain.
    static func globalPool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, blocks: Int, plane: Int,
                           max: Bool, threads: Int) {
        parallelFor(blocks, threads: threads, cost: plane * lanes) { b in
            let src = x + b * plane * lanes
            var acc = F16(repeating: max ? -.infinity : 0)
            for p in 0..<plane {
                let v = load16(src + p * lanes)
                // Swift.max(m, v) is v >= m ? v : m, as the plain kernel compares.
                acc = max ? acc.replacing(with: v, where: v .>= acc) : acc + v
            }
            store16(max ? acc : acc / F16(repeating: Float(plane)), y + b * lanes)
        }
    }

    /// Every (image, channel) plane's statistics of blocked `x` into `sink`, as `PlaneStatistics`
    /// counts a plain plane: zeros and non-finite values exactly, and the finite values' sum and
    /// sum of squares, added in another order (16 channels at a time, `LaneCounts`).
    static func planeStatistics(_ x: RuntimeTensor, into sink: PlaneStatisticsSink, threads: Int) {
        planeStatistics(x.f, shape: x.shape, into: sink, threads: threads)
    }

    /// The same over blocked values at `x` of logical shape `shape` ([N, C, H, W]).
    static func planeStatistics(_ x: UnsafePointer<Float>, shape: [Int], into sink: PlaneStatisticsSink, threads: Int) {
        let (n, c, plane) = (shape[0], shape[1], shape[2] * shape[3])
        let blocks = paddedChannels(c) / lanes, base = x
        parallelFor(n * blocks, threads: threads, cost: plane * lanes) { b in
            var counts = LaneCounts(region: sink.region)
            // In runs of at most 1024 positions, as the float partial sums allow.
            var p = 0
            while p < plane {
                let n = min(1024, plane - p)
                counts.add(base + (b * plane + p) * lanes, n, apart: lanes)
                p += n
            }
            let image = b / blocks, first = (b % blocks) * lanes
            for j in 0..<min(lanes, c - first) {
                sink.record(counts.statistics(lane: j, count: UInt64(plane)), image: image, channel: first + j)
            }
        }
    }

    /// One vector of 16 channels' plane statistics, added up as blocks of finished vectors come
    /// (`BlockedConvolution` while they are in L1, `planeStatistics` over a tensor): per lane, zeros
    /// and non-finite values, and the finite values' sum and sum of squares (in floats over at
    /// most 1024 outputs, then in doubles).
    struct LaneCounts {
        /// Whether `zeros` counts values ≤ 0 (`CountedRegion.nonPositive`) rather than zeros.
        var nonPositive = false
        var zeros = SIMD16<Int32>(), bad = SIMD16<Int32>()
        var partial = F16(), partialSquares = F16(), pending = 0
        var sums = SIMD16<Double>(), squares = SIMD16<Double>()

        init(region: CountedRegion = .zeros) { nonPositive = region == .nonPositive }

        /// Adds `n` finished vectors `apart` floats apart from `at`, in runs that fill the float
        /// partial sums up to 1024 vectors before they go into the doubles.
        ///
        /// Each run is first counted on the assumption that every value is finite: then the sums
        /// need no masking and `bad` does not change. A non-finite value (or a square past Float's
        /// range) leaves a non-finite partial sum in its lane, and then the run is counted again
        /// exactly, with every value tested, from the state before it; either way the result is
        /// the same.
        @inline(__always)
        mutating func add(_ at: UnsafePointer<Float>, _ n: Int, apart: Int) {
            var done = 0
            while done < n {
                let run = min(n - done, 1024 - pending), from = at + done * apart
                let fast = Self.finiteScan(from, run, apart, partial, partialSquares, zeros, nonPositive: nonPositive)
                // x − x is 0 for a finite x and NaN otherwise, and a NaN survives the additions: a
                // tree of vector halves (`any(_:)` over a mask went lane by lane through the stack).
                let t16 = (fast.0 - fast.0) + (fast.1 - fast.1)
                let t8 = t16.lowHalf + t16.highHalf, t4 = t8.lowHalf + t8.highHalf, t2 = t4.lowHalf + t4.highHalf
                if t2[0] + t2[1] == 0 {
                    (partial, partialSquares, zeros) = fast
                } else {
                    exactScan(from, run, apart: apart)
                }
                pending += run
                done += run
                if pending >= 1024 { flush() }
            }
        }

        /// The sums and the counted region of `n` vectors, every value taken as finite. The state
        /// is in locals, so that it stays in registers (through `self`, `inout` or a nested
        /// function's captures it went to memory on every vector), and the sums in two chains, so
        /// that their latency overlaps. The test is a mask from a vector compare: Swift's lane
        /// shifts (`&>> 31` on SIMD16) compiled to a lane-by-lane mix of scalar and 128-bit shifts.
        @inline(__always)
        private static func finiteScan(_ at: UnsafePointer<Float>, _ n: Int, _ apart: Int, _ partial: F16, _ partialSquares: F16,
                                       _ zeros: SIMD16<Int32>, nonPositive: Bool) -> (F16, F16, SIMD16<Int32>) {
            let one = SIMD16<Int32>(repeating: 1)
            var s0 = partial, s1 = F16(), q0 = partialSquares, q1 = F16(), z = zeros
            var p = 0
            while p + 2 <= n {
                let a = load16(at + p * apart), b = load16(at + (p + 1) * apart)
                z = z.replacing(with: z &+ one, where: Self.counted(a, nonPositive: nonPositive))
                z = z.replacing(with: z &+ one, where: Self.counted(b, nonPositive: nonPositive))
                s0 += a
                s1 += b
                q0 = q0.addingProduct(a, a)
                q1 = q1.addingProduct(b, b)
                p += 2
            }
            if p < n {
                let a = load16(at + p * apart)
                z = z.replacing(with: z &+ one, where: Self.counted(a, nonPositive: nonPositive))
                s0 += a
                q0 = q0.addingProduct(a, a)
            }
            return (s0 + s1, q0 + q1, z)
        }

        /// The lanes in the counted region: zeros, or values ≤ 0 (±0, the negatives and -∞,
        /// never NaN).
        @inline(__always)
        private static func counted(_ v: F16, nonPositive: Bool) -> SIMDMask<SIMD16<Int32>> {
            nonPositive ? v .<= F16() : v .== F16()
        }

        /// `add`'s run with every value tested: the non-finite ones are counted in `bad` and left
        /// out of the sums (in the same order of additions as `finiteScan`).
        private mutating func exactScan(_ at: UnsafePointer<Float>, _ n: Int, apart: Int) {
            let one = SIMD16<Int32>(repeating: 1), infinity = SIMD16<Int32>(repeating: 0x7f80_0000)
            var s0 = partial, s1 = F16(), q0 = partialSquares, q1 = F16()
            var z = zeros, nonFinite = bad
            for p in 0..<n {
                let u = load16(at + p * apart)
                z = z.replacing(with: z &+ one, where: Self.counted(u, nonPositive: nonPositive))
                let keep = unsafeBitCast(u, to: SIMD16<Int32>.self) & 0x7fff_ffff .< infinity
                nonFinite = nonFinite.replacing(with: nonFinite &+ one, where: .!keep)
                let a = F16().replacing(with: u, where: keep)
                if p & 1 == 0 {
                    s0 += a
                    q0 = q0.addingProduct(a, a)
                } else {
                    s1 += a
                    q1 = q1.addingProduct(a, a)
                }
            }
            (partial, partialSquares, zeros, bad) = (s0 + s1, q0 + q1, z, nonFinite)
        }

        mutating func flush() {
            for j in 0..<16 {
                sums[j] += Double(partial[j])
                squares[j] += Double(partialSquares[j])
            }
            (partial, partialSquares, pending) = (F16(), F16(), 0)
        }

        mutating func statistics(lane j: Int, count: UInt64) -> PlaneStatistics {
            if pending > 0 { flush() }
            return PlaneStatistics(count: count, zeros: UInt64(zeros[j]), nonFinite: UInt64(bad[j]), sum: sums[j],
                                   sumOfSquares: squares[j])
        }
    }

    /// Blocked tensors joined along the channel axis: per image, each input's blocks in turn.
    static func concatChannels(_ inputs: [RuntimeTensor], _ ctx: ExecContext) throws -> RuntimeTensor {
        let first = inputs[0]
        for t in inputs where !t.blocked || t.rank != 4 || t.shape[0] != first.shape[0] || t.shape[2...] != first.shape[2...] {
            throw ModelError("cannot concatenate \(first.shape) and \(t.shape) along axis 1")
        }
        var y = try ctx.floats([first.shape[0], inputs.reduce(0) { $0 + $1.shape[1] }, first.shape[2], first.shape[3]])
        y.blocked = true
        let n = first.shape[0], plane = first.shape[2] * first.shape[3]
        let perImage = inputs.map { $0.shape[1] * plane }, total = perImage.reduce(0, +)
        let starts = perImage.reduce(into: [0]) { $0.append($0.last! + $1) }
        let dst = y.f
        // Y's floats in contiguous runs, one per thread, each copying the parts of the inputs it
        // covers: a single image's concatenation (DenseNet joins up to 1,024 channels per layer)
        // is split too. A copied float counts as 8 operations.
        parallelChunks(n * total, threads: ctx.threads, cost: 8) { range in
            for image in (range.lowerBound / total)...((range.upperBound - 1) / total) {
                for (k, t) in inputs.enumerated() {
                    let start = image * total + starts[k]
                    let lo = max(start, range.lowerBound), hi = min(start + perImage[k], range.upperBound)
                    if lo < hi { (dst + lo).update(from: t.f + image * perImage[k] + (lo - start), count: hi - lo) }
                }
            }
        }
        return y
    }
}
