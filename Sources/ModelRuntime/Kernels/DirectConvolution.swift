/// A 2-D (or 1-D) convolution computed straight from the input, without im2col's column matrix.
///
/// Each input channel of an image is copied once into its zero-padded stride phases (see
/// `PhasePlanes`). Output (oh, ow) of every channel then sits at oh·QW + ow of a QW-wide grid,
/// and kernel tap (kh, kw) adds weight·(phase plane shifted by a fixed offset) to the whole grid:
///
///     grid[co][p] = Σ_ci Σ_tap W[co][ci][tap] · planes[ci][p + offset(tap)]
///
/// The sum runs in a register block of 4 output channels × up to 6 vectors of 16 grid positions
/// (`DirectConvolution.block`; 1 vector with AVX2, see `Tiles`): every input vector loaded serves
/// 4 channels, every broadcast weight up to 6 vectors. The epilogue (bias, batch norm, Relu/Clip)
/// is applied to the sums before they leave L1. The grid's QW − OW extra columns per row are
/// computed and dropped when the grid is copied into Y. The weights are packed as [group][channel block][ci][tap][4],
/// zero-padded to a whole block of channels (the Conv operator keeps the packed copy between
/// batches).
///
/// Small grids waste much of that: a 7×7 output fills 49 of the 64 lanes of its four vectors, and
/// the grid's extra columns cost a further 2 in 9. There the vectors run along output channels
/// instead (`byChannels`): a block holds 4 vectors of 16 channels × up to 6 consecutive outputs
/// of a row (2 or 1 vectors × up to 12; with AVX2, 1 × 6), each output's input
/// broadcast from the phases, so only real outputs are computed, and the sums are scattered into
/// Y's planes. The weights are then packed as [group][16 channels][ci][tap][16].
///
/// A class, as `BlockedConvolution` is: kept between batches and handed on by reference.
final class DirectConvolution {
    static let channelBlock = 4

    let l: ConvLayout
    let phases: PhasePlanes
    let kvol: Int
    /// Offset of each kernel tap into an input channel's phase planes.
    let taps: [Int]
    /// Floats per input channel in the unfolded scratch (all its stride phases).
    let channelStride: Int
    /// Output grid positions per channel (OH·QW), and the same rounded up to whole vectors.
    let grid: Int, gridStride: Int
    /// Vectors along output channels rather than grid positions (see above).
    let byChannels: Bool
    /// Output channels per packed block: `channelBlock`, or 16 by channels.
    let packWidth: Int
    /// Blocks of `packWidth` output channels per group.
    let channelBlocks: Int
    /// 1×1, stride 1, unpadded, at least one vector per channel: X itself is the unfolded input.
    let readsInPlace: Bool
    /// Grid rows are Y's rows (no horizontal padding or stride), there is at least one vector per
    /// channel, and the channels come in whole blocks: the sums are stored straight into Y.
    let writesInPlace: Bool
    /// Over the grid: the blocks of vectors (`blocks(grid:most:)`).
    let gridBlocks: [(position: Int, count: Int)]
    /// By channels: groups of 4, 2 or 1 channel vectors (at most `Tiles.channelVectors`), and
    /// the pieces of output rows by the group's vector count, with as many outputs as the tile's
    /// accumulators hold (`Tiles.channelPieces`: with AVX-512, 6 for 4 vectors and 12 for fewer;
    /// empty for counts no group has).
    let channelGroups: [(first: Int, count: Int)]
    let piecesByVectors: [[(grid: Int, output: Int, count: Int)]]

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
        // Useful share of the lanes computed: 16-position vectors over the grid (a partial last
        // vector costs a whole one), or 16-channel vectors over the real outputs.
        let outputs = phases.OH * phases.OW, m = l.outPerGroup
        let spatialShare = Double(outputs) / Double(16 * max(1, (grid + 15) / 16))
        let channelShare = Double(m) / Double(16 * ((m + 15) / 16))
        // Measured (Tools/layer-benchmark.py, Tools/benchmark.py): by channels wins on 7×7 outputs
        // with blocks of 4 channel vectors over a kernel of several taps; with 2 vectors (32
        // channels, 14×14 outputs) it measured level with the grid; 1×1 kernels lost (short sums,
        // relatively costly scatter).
        byChannels = m >= 32 && kvol > 1 && channelShare > 1.05 * spatialShare
        packWidth = byChannels ? 16 : Self.channelBlock
        channelBlocks = (m + packWidth - 1) / packWidth
        readsInPlace = l.isPointwise && (grid >= 16 || byChannels)
        writesInPlace = byChannels || (phases.QW == phases.OW && grid >= 16 && m % Self.channelBlock == 0)
        let tiles = Tiles.current
        gridBlocks = byChannels ? [] : Self.blocks(grid: grid, most: tiles.gridVectors)
        let counts = [4, 2, 1].filter { $0 <= tiles.channelVectors }
        var groups: [(first: Int, count: Int)] = [], v = 0
        while byChannels && v < channelBlocks {
            let left = channelBlocks - v
            let count = counts.first { $0 <= left }!
            groups.append((v, count))
            v += count
        }
        channelGroups = groups
        let planes = phases, used = Set(groups.map(\.count))
        piecesByVectors = (0...4).map { used.contains($0) ? Self.pieces(planes, most: tiles.channelPieces($0)) : [] }
    }

    /// Pieces of output rows at most `most` outputs long, as even as possible: (grid offset,
    /// output index, count). The outputs of a piece are consecutive in the phases too, so one
    /// base address serves them all.
    static func pieces(_ phases: PhasePlanes, most: Int) -> [(grid: Int, output: Int, count: Int)] {
        let (OH, OW, QW) = (phases.OH, phases.OW, phases.QW), k = (OW + most - 1) / most
        return (0..<OH).flatMap { oh in
            (0..<k).map { j in (oh * QW + OW * j / k, oh * OW + OW * j / k, OW * (j + 1) / k - OW * j / k) }
        }
    }

    /// Floats of the unfolded input of one image and group: every channel's phases, plus what
    /// the last vectors of the grid read past the last channel.
    var inputScratch: Int {
        if readsInPlace { return 0 }
        if byChannels { return l.inPerGroup * channelStride }
        return max(l.inPerGroup * channelStride, (l.inPerGroup - 1) * channelStride + (taps.max() ?? 0) + gridStride)
    }
    /// Floats of output grid of one image and group.
    var gridScratch: Int { writesInPlace ? 0 : channelBlocks * Self.channelBlock * gridStride }
    var scratchPerWorker: Int { inputScratch + gridScratch }
    var packedWeights: Int { l.groups * channelBlocks * packWidth * l.inPerGroup * kvol }
    func scratchCount(workers: Int) -> Int { packedWeights + workers * scratchPerWorker }

    /// Runs the convolution; `scratch` holds `scratchCount(workers: l.workers(threads:))` floats.
    /// `packed` is W already packed (`pack`), when the caller kept it from an earlier call.
    func run(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, packed prepacked: UnsafePointer<Float>? = nil,
             _ epilogue: ConvEpilogue, _ y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
             threads: Int) {
        if prepacked == nil { pack(w, into: scratch) }
        let packed = prepacked ?? UnsafePointer(scratch)
        let workers = l.workers(threads: threads)
        let finish = epilogue.finish(groups: l.groups, perGroup: l.outPerGroup, width: channelBlocks * packWidth)
        finish.scale.withUnsafeBufferPointer { scale in
        finish.shift.withUnsafeBufferPointer { shift in
            let sums = Sums(rule: finish.rule, scale: scale.baseAddress!, shift: shift.baseAddress!)
            parallelWorkers(l.batch, workers: workers) { worker, images in
                let mine = scratch + packedWeights + worker * scratchPerWorker
                // `PhasePlanes.split` never writes the padding cells: zero them once per call.
                zeroFloats(mine, inputScratch)
                for n in images {
                    for grp in 0..<l.groups {
                        image(n, group: grp, x, packed, sums, epilogue, y, scratch: mine, threads: workers == 1 ? threads : 1)
                    }
                }
            }
        }
        }
    }

    /// W [M, C/groups, kh, kw] → [group][channel block][ci][tap][packWidth], zeros for missing
    /// channels.
    func pack(_ w: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>) {
        let cb = packWidth, cin = l.inPerGroup
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

    /// The epilogue as register blocks apply it: the rule, and per channel (padded per group to
    /// whole blocks, see `ConvEpilogue.finish`) the scale and shift.
    struct Sums {
        let rule: FinishRule
        let scale: UnsafePointer<Float>, shift: UnsafePointer<Float>
    }

    /// One image and group: unfold, the register-blocked sums finished by the epilogue in
    /// registers, then the crop into Y if the grid is wider.
    private func image(_ n: Int, group grp: Int, _ x: UnsafePointer<Float>, _ packed: UnsafePointer<Float>,
                       _ sums: Sums, _ epilogue: ConvEpilogue, _ y: UnsafeMutablePointer<Float>,
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
        let width = channelBlocks * packWidth
        let finish = Sums(rule: sums.rule, scale: sums.scale + grp * width, shift: sums.shift + grp * width)
        if byChannels {
            sumByChannels(planes, planeStride, packed + grp * channelBlocks * 16 * cin * kvol, finish, y + firstChannel * ovol,
                          threads: threads)
            parallelFor(l.outPerGroup, threads: threads, cost: ovol) { co in
                epilogue.finished(y + (firstChannel + co) * ovol, image: n, channel: grp * l.outPerGroup + co, count: ovol)
            }
            return
        }
        let (out, outStride) = writesInPlace ? (y + firstChannel * ovol, ovol) : (scratch + inputScratch, gridStride)
        let weights = packed + grp * channelBlocks * Self.channelBlock * cin * kvol
        let blockWeights = Self.channelBlock * cin * kvol
        let blocks = gridBlocks
        taps.withUnsafeBufferPointer { taps in
            let offsets = taps.baseAddress!
            // Positions outside, channels inside: a block's input stays in L1 for every channel block.
            // The last block may overlap the one before (see `blocks(grid:most:)`): the two run on one
            // thread, in order, since each finishes its sums in place (on two threads, one could
            // finish values the other had already finished, twice).
            let n = blocks.count
            let overlaps = n >= 2 && blocks[n - 1].position < blocks[n - 2].position + 16 * blocks[n - 2].count
            let units = overlaps ? n - 1 : n
            parallelFor(units, threads: threads, cost: 96 * blockWeights * channelBlocks) { u in
                for b in u..<(overlaps && u == units - 1 ? n : u + 1) {
                    let (p, count) = blocks[b]
                    let rule = finish.rule
                    for block in 0..<channelBlocks {
                        let wb = weights + block * blockWeights, ob = out + block * Self.channelBlock * outStride + p
                        let es = finish.scale + block * Self.channelBlock, et = finish.shift + block * Self.channelBlock
                        switch count {
                        case 6: Self.block(Six.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride, rule, es, et)
                        case 5: Self.block(Five.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride, rule, es, et)
                        case 4: Self.block(Four.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride, rule, es, et)
                        case 3: Self.block(Three.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride, rule, es, et)
                        case 2: Self.block(Two.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride, rule, es, et)
                        default: Self.block(One.self, planes + p, planeStride, cin, offsets, taps.count, wb, ob, outStride, rule, es, et)
                        }
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
            epilogue.finished(dst, image: n, channel: grp * l.outPerGroup + co, count: ovol)
        }
    }

    /// Blocks of vectors covering a grid of `grid` positions: as few as possible of at most
    /// `vectorsPerBlock` (`Tiles.gridVectors`), as even as possible (no lone vector left over).
    /// The last block ends at the grid's end, overlapping the one before when the grid is not
    /// whole vectors, so that nothing is read or written past it; a grid under one vector is one
    /// vector of scratch.
    static func blocks(grid: Int, most vectorsPerBlock: Int) -> [(position: Int, count: Int)] {
        guard grid >= 16 else { return [(0, 1)] }
        let vectors = (grid + 15) / 16
        var count = (vectors + vectorsPerBlock - 1) / vectorsPerBlock
        // Each block, the last one included, must fit inside the grid.
        while 16 * ((vectors + count - 1) / count) > grid { count += 1 }
        var blocks: [(position: Int, count: Int)] = []
        var done = 0
        for b in 0..<count {
            let n = vectors * (b + 1) / count - vectors * b / count
            blocks.append((min(16 * done, grid - 16 * n), n))
            done += n
        }
        return blocks
    }

    /// By channels: every output of one image and group into `y` (its first channel's plane).
    private func sumByChannels(_ planes: UnsafePointer<Float>, _ planeStride: Int, _ weights: UnsafePointer<Float>,
                               _ finish: Sums, _ y: UnsafeMutablePointer<Float>, threads: Int) {
        let cin = l.inPerGroup, m = l.outPerGroup, ovol = phases.OH * phases.OW
        let vectorWeights = 16 * cin * kvol, groups = channelGroups
        taps.withUnsafeBufferPointer { taps in
            let offsets = taps.baseAddress!, kvol = taps.count
            parallelFor(groups.count, threads: threads, cost: ovol * cin * kvol * 16) { k in
                let (first, count) = groups[k]
                let w = weights + first * vectorWeights, out = y + first * 16 * ovol
                let lanes = min(16 * count, m - 16 * first)
                let rule = finish.rule, es = finish.scale + 16 * first, et = finish.shift + 16 * first
                let tile = UnsafeMutablePointer<Float>.allocate(capacity: 24 * 16)
                defer { tile.deallocate() }
                for (at, o, n) in piecesByVectors[count] {
                    func run<C: VectorCount>(_ c: C.Type) {
                        switch n {
                        case 12: Self.channelBlock(C.self, Twelve.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 11: Self.channelBlock(C.self, Eleven.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 10: Self.channelBlock(C.self, Ten.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 9: Self.channelBlock(C.self, Nine.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 8: Self.channelBlock(C.self, Eight.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 7: Self.channelBlock(C.self, Seven.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 6: Self.channelBlock(C.self, Six.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 5: Self.channelBlock(C.self, Five.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 4: Self.channelBlock(C.self, Four.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 3: Self.channelBlock(C.self, Three.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        case 2: Self.channelBlock(C.self, Two.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        default: Self.channelBlock(C.self, One.self, planes, planeStride, cin, offsets, kvol, at, w, vectorWeights, out + o, ovol, lanes, tile, rule, es, et)
                        }
                    }
                    switch count {
                    case 4: run(Four.self)
                    case 2: run(Two.self)
                    default: run(One.self)
                    }
                }
            }
        }
    }
}
