/// The register blocks of `DirectConvolution`'s by-channels path and of its grid path.
extension DirectConvolution {
    /// `C` vectors of 16 output channels × `P` consecutive outputs (from grid offset `at`), summed over
    /// every input channel and tap from weights packed [vector][ci][tap][16] (`vectorStride`
    /// floats per vector), finished by `rule` with the channels' scale `es` and shift `et`, then
    /// scattered into Y: output k of channel j goes to `out[j·outStride + k]`, for the first
    /// `lanes` channels.
    @inline(__always)
    static func channelBlock<C: VectorCount, P: VectorCount>(
        _: C.Type, _: P.Type, _ planes: UnsafePointer<Float>, _ channelStride: Int, _ cin: Int,
        _ offsets: UnsafePointer<Int>, _ taps: Int, _ at: Int, _ w: UnsafePointer<Float>,
        _ vectorStride: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int, _ lanes: Int,
        _ tile: UnsafeMutablePointer<Float>, _ rule: FinishRule, _ es: UnsafePointer<Float>, _ et: UnsafePointer<Float>
    ) {
        var acc = Accumulators24()
        withUnsafeMutableBytes(of: &acc) { raw in
            let a = raw.baseAddress!.assumingMemoryBound(to: F16.self)
            var wp = w
            for ci in 0..<cin {
                let plane = planes + ci * channelStride + at
                for t in 0..<taps {
                    let q = plane + offsets[t]
                    let w0 = load16(wp)
                    let w1 = C.count > 1 ? load16(wp + vectorStride) : F16()
                    let w2 = C.count > 2 ? load16(wp + 2 * vectorStride) : F16()
                    let w3 = C.count > 3 ? load16(wp + 3 * vectorStride) : F16()
                    wp += 16
                    for p in 0..<P.count {
                        let x = F16(repeating: q[p])
                        a[p] = a[p].addingProduct(w0, x)
                        if C.count > 1 { a[P.count + p] = a[P.count + p].addingProduct(w1, x) }
                        if C.count > 2 { a[2 * P.count + p] = a[2 * P.count + p].addingProduct(w2, x) }
                        if C.count > 3 { a[3 * P.count + p] = a[3 * P.count + p].addingProduct(w3, x) }
                    }
                }
            }
            // Through a tile, so that the accumulators are only ever stored whole (read lane by
            // lane, they would be kept in memory through the whole sum).
            for k in 0..<(C.count * P.count) { store16(a[k], tile + 16 * k) }
        }
        for c in 0..<C.count {
            let s = load16(es + 16 * c), t = load16(et + 16 * c)
            for p in 0..<P.count {
                let at = tile + 16 * (c * P.count + p)
                store16(rule(load16(at), s, t), at)
            }
        }
        for c in 0..<C.count {
            let valid = min(16, lanes - 16 * c)
            if valid <= 0 { break }
            for j in 0..<valid {
                let dst = out + (16 * c + j) * outStride, src = tile + 16 * c * P.count + j
                for p in 0..<P.count { dst[p] = src[16 * p] }
            }
        }
    }

    /// The register block: `channelBlock` output channels × `V.count` vectors of 16 positions,
    /// summed over every input channel and tap, finished by `rule` with the 4 channels' scale
    /// `es` and shift `et`, then stored to `out` (rows `outStride` apart).
    /// Generic over the vector count so that each width compiles to straight-line code with its
    /// accumulators in registers.
    @inline(__always)
    static func block<V: VectorCount>(_: V.Type, _ planes: UnsafePointer<Float>, _ channelStride: Int,
                                              _ cin: Int, _ offsets: UnsafePointer<Int>, _ taps: Int,
                                              _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                              _ outStride: Int, _ rule: FinishRule, _ es: UnsafePointer<Float>,
                                              _ et: UnsafePointer<Float>) {
        var acc = Accumulators24()
        withUnsafeMutableBytes(of: &acc) { raw in
            let a = raw.baseAddress!.assumingMemoryBound(to: F16.self)
            let n = V.count
            var wp = w
            for ci in 0..<cin {
                let plane = planes + ci * channelStride
                for t in 0..<taps {
                    let p = plane + offsets[t]
                    let w0 = F16(repeating: wp[0]), w1 = F16(repeating: wp[1])
                    let w2 = F16(repeating: wp[2]), w3 = F16(repeating: wp[3])
                    wp += 4
                    for j in 0..<n {
                        let v = load16(p + 16 * j)
                        a[j] = a[j].addingProduct(v, w0)
                        a[n + j] = a[n + j].addingProduct(v, w1)
                        a[2 * n + j] = a[2 * n + j].addingProduct(v, w2)
                        a[3 * n + j] = a[3 * n + j].addingProduct(v, w3)
                    }
                }
            }
            for c in 0..<4 {
                for j in 0..<n { store16(a[n * c + j], out + c * outStride + 16 * j) }
            }
        }
        // Finished from L1 rather than from the accumulators: handing those to the rule keeps
        // them in memory through the whole sum (measured 2.4x slower).
        for c in 0..<4 {
            let s = F16(repeating: es[c]), t = F16(repeating: et[c])
            for j in 0..<V.count {
                let at = out + c * outStride + 16 * j
                store16(rule(load16(at), s, t), at)
            }
        }
    }
}
