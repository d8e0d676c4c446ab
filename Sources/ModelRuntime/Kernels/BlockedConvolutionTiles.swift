/// The register tiles of `BlockedConvolution`: rows of outputs, ungrouped and depthwise, and the
/// scatter of a finished tile into plain planes.
extension BlockedConvolution {
    /// `tile` ([vector][output][16], finished) into plain planes `plane` floats apart, from the
    /// plane of its first channel at `y`: the first `lanes` channels only.
    @inline(__always)
    static func scatter(_ tile: UnsafePointer<Float>, vectors: Int, outputs n: Int, _ y: UnsafeMutablePointer<Float>,
                                _ plane: Int, lanes: Int) {
        for o in 0..<vectors {
            for j in 0..<min(16, lanes - 16 * o) {
                let dst = y + (16 * o + j) * plane, src = tile + o * n * 16 + j
                for p in 0..<n { dst[p] = src[p * 16] }
            }
        }
    }

    /// `tile` for a piece of `n` outputs, dispatched to its compile-time width.
    @inline(__always)
    static func row<O: VectorCount>(
        _: O.Type, _ n: Int, _ x: UnsafePointer<Float>, _ cin: Int, _ laneStride: Int, _ blockStride: Int,
        _ posStride: Int, _ taps: UnsafePointer<Int>, _ kvol: Int, _ w: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, _ yBlock: Int, _ rule: FinishRule, _ es: UnsafePointer<Float>, _ et: UnsafePointer<Float>,
        accumulate: Bool = false, finishing: Bool = true
    ) {
        switch n {
        case 12: tile(O.self, Twelve.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 11: tile(O.self, Eleven.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 10: tile(O.self, Ten.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 9: tile(O.self, Nine.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 8: tile(O.self, Eight.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 7: tile(O.self, Seven.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 6: tile(O.self, Six.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 5: tile(O.self, Five.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 4: tile(O.self, Four.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 3: tile(O.self, Three.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        case 2: tile(O.self, Two.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et, accumulate: accumulate, finishing: finishing)
        default: tile(O.self, One.self, x, cin, laneStride, blockStride, posStride, taps, kvol, w, y, yBlock, rule, es, et,
                      accumulate: accumulate, finishing: finishing)
        }
    }

    /// A row of `width` outputs in pieces of at most `most`, as even as possible: (first, count).
    static func pieces(_ width: Int, most: Int) -> [(Int, Int)] {
        let k = (width + most - 1) / most
        return (0..<k).map { j in (width * j / k, width * (j + 1) / k - width * j / k) }
    }

    /// `O` vectors of 16 output channels × `P` consecutive outputs of a row, summed over every
    /// input channel and tap, stored blocked at `y` (vectors `yBlock` floats apart) and finished by
    /// `rule` with the channels' scale `es` and shift `et`. `x` is the first output's window
    /// origin for input channel 0; outputs are `posStride` floats apart in the input. With
    /// `accumulate` the sums start from what `y` holds (a previous block of input channels), and
    /// without `finishing` they are stored unfinished (more blocks follow).
    @inline(__always)
    static func tile<O: VectorCount, P: VectorCount>(
        _: O.Type, _: P.Type, _ x: UnsafePointer<Float>, _ cin: Int, _ laneStride: Int, _ blockStride: Int,
        _ posStride: Int, _ taps: UnsafePointer<Int>, _ kvol: Int, _ w: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, _ yBlock: Int, _ rule: FinishRule, _ es: UnsafePointer<Float>, _ et: UnsafePointer<Float>,
        accumulate: Bool = false, finishing: Bool = true
    ) {
        var acc = Accumulators24()
        withUnsafeMutableBytes(of: &acc) { raw in
            let a = raw.baseAddress!.assumingMemoryBound(to: F16.self)
            if accumulate {
                for o in 0..<O.count {
                    for p in 0..<P.count { a[o * P.count + p] = load16(y + o * yBlock + 16 * p) }
                }
            }
            var wp = w
            var ci = 0
            while ci < cin {
                let block = x + (ci >> 4) * blockStride
                for lane in 0..<min(16, cin - ci) {
                    let plane = block + lane * laneStride
                    for t in 0..<kvol {
                        let q = plane + taps[t]
                        let w0 = load16(wp)
                        let w1 = O.count > 1 ? load16(wp + 16) : F16()
                        let w2 = O.count > 2 ? load16(wp + 32) : F16()
                        let w3 = O.count > 3 ? load16(wp + 48) : F16()
                        wp += 16 * O.count
                        for p in 0..<P.count {
                            let v = F16(repeating: q[p * posStride])
                            a[p] = a[p].addingProduct(w0, v)
                            if O.count > 1 { a[P.count + p] = a[P.count + p].addingProduct(w1, v) }
                            if O.count > 2 { a[2 * P.count + p] = a[2 * P.count + p].addingProduct(w2, v) }
                            if O.count > 3 { a[3 * P.count + p] = a[3 * P.count + p].addingProduct(w3, v) }
                        }
                    }
                }
                ci += 16
            }
            for o in 0..<O.count {
                for p in 0..<P.count { store16(a[o * P.count + p], y + o * yBlock + 16 * p) }
            }
        }
        // Finished from L1, as `DirectConvolution.block` does (the rule applied to the
        // accumulators themselves kept them in memory through the whole sum).
        guard finishing else { return }
        for o in 0..<O.count {
            let s = load16(es + 16 * o), t = load16(et + 16 * o)
            for p in 0..<P.count {
                let at = y + o * yBlock + 16 * p
                store16(rule(load16(at), s, t), at)
            }
        }
    }

    /// Depthwise: one block of 16 channels × `P` consecutive outputs of a row, summed over the
    /// taps (weights `w`, [tap][16]), stored at `y` and finished by `rule` with scale `s` and
    /// shift `t`. `x` is the first output's window origin; outputs are `posStride` floats apart.
    @inline(__always)
    static func depthwiseTile<P: VectorCount>(
        _: P.Type, _ x: UnsafePointer<Float>, _ posStride: Int, _ taps: UnsafePointer<Int>, _ kvol: Int,
        _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rule: FinishRule, _ s: F16, _ t: F16
    ) {
        var acc = Accumulators24()
        withUnsafeMutableBytes(of: &acc) { raw in
            let a = raw.baseAddress!.assumingMemoryBound(to: F16.self)
            for k in 0..<kvol {
                let wv = load16(w + 16 * k), q = x + taps[k]
                for p in 0..<P.count { a[p] = a[p].addingProduct(load16(q + p * posStride), wv) }
            }
            for p in 0..<P.count { store16(a[p], y + 16 * p) }
        }
        for p in 0..<P.count { store16(rule(load16(y + 16 * p), s, t), y + 16 * p) }
    }
}
