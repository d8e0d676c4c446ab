/// 16 floats: one AVX-512 register when the release build targets a CPU that has them (the
/// default, `-target-cpu native`), two AVX2 registers otherwise.
typealias F16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> F16 { UnsafeRawPointer(p).loadUnaligned(as: F16.self) }
@inline(__always) func store16(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
}

/// A 2-D (or 1-D) convolution computed straight from the input, without im2col's column matrix.
///
/// Each input channel of an image is copied once into its zero-padded stride phases (see
/// `PhasePlanes`). Output (oh, ow) of every channel then sits at oh·QW + ow of a QW-wide grid,
/// and kernel tap (kh, kw) adds weight·(phase plane shifted by a fixed offset) to the whole grid:
///
///     grid[co][p] = Σ_ci Σ_tap W[co][ci][tap] · planes[ci][p + offset(tap)]
///
/// The sum runs in a register block of 4 output channels × up to 4 vectors of 16 grid positions
/// (`DirectConvolution.block`): every input vector loaded serves 4 channels, every broadcast
/// weight 4 vectors. The grid's QW − OW extra columns per row are computed and dropped when the
/// grid is copied into Y, where each (image, channel) plane gets its epilogue while in cache.
/// The weights are repacked once per call as [group][channel block][ci][tap][4], zero-padded to a
/// whole block of channels.
struct DirectConvolution {
    static let channelBlock = 4, vectorsPerBlock = 4

    let l: ConvLayout
    let phases: PhasePlanes
    let kvol: Int
    /// Offset of each kernel tap into an input channel's phase planes.
    let taps: [Int]
    /// Floats per input channel in the unfolded scratch (all its stride phases).
    let channelStride: Int
    /// Output grid positions per channel (OH·QW), and the same rounded up to whole vectors.
    let grid: Int, gridStride: Int
    /// Blocks of `channelBlock` output channels per group.
    let channelBlocks: Int
    /// 1×1, stride 1, unpadded, at least one vector per channel: X itself is the unfolded input.
    let readsInPlace: Bool
    /// Grid rows are Y's rows (no horizontal padding or stride), there is at least one vector per
    /// channel, and the channels come in whole blocks: the sums are stored straight into Y.
    let writesInPlace: Bool

    /// Whether `l` can take this path: at most two spatial axes.
    static func applies(to l: ConvLayout) -> Bool {
        let g = l.geometry
        return g.input[0] == 1 && g.output[0] == 1 && g.kernel[0] == 1
    }

    init(_ l: ConvLayout) {
        self.l = l
        let g = l.geometry
        phases = PhasePlanes(g)
        kvol = g.kernel[1] * g.kernel[2]
        taps = phases.tapOffsets(g)
        channelStride = g.stride[1] * g.stride[2] * phases.phaseCount
        grid = phases.OH * phases.QW
        gridStride = (grid + 15) & ~15
        channelBlocks = (l.outPerGroup + Self.channelBlock - 1) / Self.channelBlock
        readsInPlace = l.isPointwise && grid >= 16
        writesInPlace = phases.QW == phases.OW && grid >= 16 && l.outPerGroup % Self.channelBlock == 0
    }

    /// Floats of the unfolded input of one image and group: every channel's phases, plus what
    /// the last vectors of the grid read past the last channel.
    var inputScratch: Int {
        readsInPlace ? 0 : max(l.inPerGroup * channelStride, (l.inPerGroup - 1) * channelStride + (taps.max() ?? 0) + gridStride)
    }
    /// Floats of output grid of one image and group.
    var gridScratch: Int { writesInPlace ? 0 : channelBlocks * Self.channelBlock * gridStride }
    var scratchPerWorker: Int { inputScratch + gridScratch }
    var packedWeights: Int { l.groups * channelBlocks * Self.channelBlock * l.inPerGroup * kvol }
    func scratchCount(workers: Int) -> Int { packedWeights + workers * scratchPerWorker }

    /// Runs the convolution; `scratch` holds `scratchCount(workers: l.workers(threads:))` floats.
    func run(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ epilogue: ConvEpilogue,
             _ y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, threads: Int) {
        pack(w, into: scratch)
        let packed = UnsafePointer(scratch)
        let workers = l.workers(threads: threads)
        parallelWorkers(l.batch, workers: workers) { worker, images in
            let mine = scratch + packedWeights + worker * scratchPerWorker
            // Padding cells are never written by `unfold`: zero them once per call.
            zeroFloats(mine, inputScratch)
            for n in images {
                for grp in 0..<l.groups {
                    image(n, group: grp, x, packed, epilogue, y, scratch: mine, threads: workers == 1 ? threads : 1)
                }
            }
        }
    }

    /// W [M, C/groups, kh, kw] → [group][channel block][ci][tap][4], zeros for missing channels.
    func pack(_ w: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>) {
        let cb = Self.channelBlock, cin = l.inPerGroup
        var k = 0
        for grp in 0..<l.groups {
            for block in 0..<channelBlocks {
                for ci in 0..<cin {
                    for tap in 0..<kvol {
                        for j in 0..<cb {
                            let co = block * cb + j
                            p[k] = co < l.outPerGroup ? w[((grp * l.outPerGroup + co) * cin + ci) * kvol + tap] : 0
                            k += 1
                        }
                    }
                }
            }
        }
    }

    /// One image and group: unfold, the register-blocked sums, then crop and epilogue per channel.
    private func image(_ n: Int, group grp: Int, _ x: UnsafePointer<Float>, _ packed: UnsafePointer<Float>,
                       _ epilogue: ConvEpilogue, _ y: UnsafeMutablePointer<Float>,
                       scratch: UnsafeMutablePointer<Float>, threads: Int) {
        let g = l.geometry, cin = l.inPerGroup
        let ivol = g.input[1] * g.input[2], ovol = g.output[1] * g.output[2]
        let source = x + (n * l.inChannels + grp * cin) * ivol
        let planes: UnsafePointer<Float>, planeStride: Int
        if readsInPlace {
            (planes, planeStride) = (source, ivol)
        } else {
            parallelFor(cin, threads: threads, cost: ivol) { ci in
                phases.split(source + ci * ivol, into: scratch + ci * channelStride, zeroing: false)
            }
            (planes, planeStride) = (UnsafePointer(scratch), channelStride)
        }
        let firstChannel = n * l.outChannels + grp * l.outPerGroup
        let (out, outStride) = writesInPlace ? (y + firstChannel * ovol, ovol) : (scratch + inputScratch, gridStride)
        let weights = packed + grp * channelBlocks * Self.channelBlock * cin * kvol
        let blockWeights = Self.channelBlock * cin * kvol
        // Whole vectors in blocks of up to four; a last partial vector is computed at grid − 16,
        // overlapping the one before, so that nothing is read or written past the grid (with a
        // grid under 16 positions, both sides are scratch with room for a whole vector).
        let vectors = grid >= 16 ? grid / 16 : 1
        var blocks = stride(from: 0, to: vectors, by: Self.vectorsPerBlock).map { v in
            (position: 16 * v, count: min(Self.vectorsPerBlock, vectors - v))
        }
        if grid >= 16 && grid % 16 != 0 { blocks.append((grid - 16, 1)) }
        taps.withUnsafeBufferPointer { taps in
            let offsets = taps.baseAddress!
            // Positions outside, channels inside: a block's input stays in L1 for every channel block.
            parallelFor(blocks.count, threads: threads, cost: 64 * blockWeights * channelBlocks) { b in
                let (p, count) = blocks[b]
                for block in 0..<channelBlocks {
                    let wb = weights + block * blockWeights, ob = out + block * Self.channelBlock * outStride + p
                    switch count {
                    case 4: Self.block(Four.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride)
                    case 3: Self.block(Three.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride)
                    case 2: Self.block(Two.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride)
                    default: Self.block(One.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride)
                    }
                }
            }
        }
        let (OH, OW, QW) = (phases.OH, phases.OW, phases.QW)
        parallelFor(l.outPerGroup, threads: threads, cost: ovol) { co in
            let dst = y + (firstChannel + co) * ovol
            if !writesInPlace {
                let src = out + co * gridStride
                if QW == OW {
                    copyFloats(dst, src, ovol)
                } else {
                    for oh in 0..<OH { copyFloats(dst + oh * OW, src + oh * QW, OW) }
                }
            }
            epilogue.apply(dst, image: n, channel: grp * l.outPerGroup + co, count: ovol)
        }
    }

    /// The register block: `channelBlock` output channels × `V.count` vectors of 16 positions,
    /// summed over every input channel and tap, then stored to `out` (rows `outStride` apart).
    /// Generic over the vector count so that each width compiles to straight-line code with its
    /// accumulators in registers.
    @inline(__always)
    private static func block<V: VectorCount>(_: V.Type, _ planes: UnsafePointer<Float>, _ channelStride: Int,
                                              _ cin: Int, _ offsets: UnsafePointer<Int>, _ taps: Int,
                                              _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                              _ outStride: Int) {
        var acc = Accumulators()
        withUnsafeMutableBytes(of: &acc) { raw in
            let a = raw.baseAddress!.assumingMemoryBound(to: F16.self)
            var wp = w
            for ci in 0..<cin {
                let plane = planes + ci * channelStride
                for t in 0..<taps {
                    let p = plane + offsets[t]
                    let w0 = F16(repeating: wp[0]), w1 = F16(repeating: wp[1])
                    let w2 = F16(repeating: wp[2]), w3 = F16(repeating: wp[3])
                    wp += 4
                    for j in 0..<V.count {
                        let v = load16(p + 16 * j)
                        a[j] = a[j].addingProduct(v, w0)
                        a[4 + j] = a[4 + j].addingProduct(v, w1)
                        a[8 + j] = a[8 + j].addingProduct(v, w2)
                        a[12 + j] = a[12 + j].addingProduct(v, w3)
                    }
                }
            }
            for c in 0..<4 {
                for j in 0..<V.count { store16(a[4 * c + j], out + c * outStride + 16 * j) }
            }
        }
    }
}

/// 4 × 4 accumulators of 16 floats; after specialisation and unrolling they live in registers.
private struct Accumulators {
    var v: (F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16) =
        (F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16())
}

/// A compile-time vector count for `DirectConvolution.block`.
protocol VectorCount { static var count: Int { get } }
enum One: VectorCount { static var count: Int { 1 } }
enum Two: VectorCount { static var count: Int { 2 } }
enum Three: VectorCount { static var count: Int { 3 } }
enum Four: VectorCount { static var count: Int { 4 } }
