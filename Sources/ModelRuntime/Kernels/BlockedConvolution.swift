import CBLAS

/// A 2-D convolution vectorised along output channels, reading and writing either layout
/// (`BlockedLayout`): ungrouped, from a blocked or plain input, or depthwise (one filter per
/// channel) from a blocked input.
///
/// Each image's input is first copied into a zero-padded scratch of the same layout (skipped when
/// the convolution has no padding, and for depthwise ones on larger maps, which read X and treat
/// the border outputs apart), so every tap of every output reads inside it. Then:
/// - **Ungrouped:** a register block holds up to 4 vectors of 16 output channels × up to 12
///   consecutive outputs of a row (24 accumulators at most). For each input channel and tap, the
///   block loads one weight vector per channel vector and broadcasts one input value per output:
///
///       y[o][p] += W[o][ci][tap] (16 channels) · x[ci][row, col(p) + tap]
///
///   Strides and dilations only change where the broadcast values are read. A plain input (a
///   first layer with 1 or 3 channels) is read the same way with other strides.
/// - **Depthwise:** each block of 16 channels is summed over the taps, a vector of weights times a
///   vector of inputs per tap and output, for up to 8 outputs of a row at once.
///
/// The epilogue (bias, batch norm, Relu/Clip) is applied to the sums while they are in L1, as in
/// `DirectConvolution`. A plain output gets the finished block scattered into its planes from a
/// small tile; output channels then need not fill whole vectors (the weights of the missing
/// channels are zero and their sums dropped). Weights are packed as
/// [group of channel vectors][ci][tap][vector][16] (depthwise: [channel block][tap][16]).
///
/// A class: a Conv keeps its plan between batches (`ConvolutionOperators.PlanCache`) and hands
/// it on, one reference instead of a retain per table.
final class BlockedConvolution {
    let l: ConvLayout
    /// Whether X is blocked (otherwise plain NCHW), and whether Y is.
    let inputBlocked: Bool, outputBlocked: Bool
    let depthwise: Bool
    let kvol: Int
    /// Padded input extent; `padded` is false when X itself serves (no padding).
    let PH: Int, PW: Int
    let padded: Bool
    /// A depthwise convolution with padding whose border outputs are under a quarter of all:
    /// it reads X unpadded (`depthwiseUnpadded`). On small maps (7×7 with a 5×5 kernel: 40 of 49
    /// outputs at the border) the padded copy is cheaper than summing so many outputs tap by tap.
    let readsUnpadded: Bool
    /// Floats between input columns, rows, lanes of a block and blocks, in the (padded) input.
    let colStride: Int, rowStride: Int, laneStride: Int, blockStride: Int
    /// Offset of each kernel tap from a window's first input, in floats.
    let taps: [Int]
    /// Groups of output channel vectors summed together: (first vector, count).
    let groups: [(first: Int, count: Int)]
    /// The output as rows of outputs that are consecutive in the input too: OH rows of OW, or for
    /// a 1×1 kernel at stride 1 without padding a single row of OH·OW (longer pieces fill the
    /// register blocks better on small maps).
    let rows: Int, rowWidth: Int
    /// Each row in pieces of at most `Tiles.blockedPieces[count]` outputs for `count` channel
    /// vectors: as many accumulators as leave registers for the weights and broadcast inputs
    /// (with AVX-512, 24 spilled with 2 vectors × 12 outputs).
    let piecesByCount: [[(Int, Int)]]
    /// A depthwise row in pieces of at most this many outputs.
    let depthwisePieces: Int

    /// Whether `l` can take this path, given X's layout (Y may be either): a 2-D (or 1-D) convolution,
    /// ungrouped, or depthwise from a blocked input. Channel counts that are not multiples of 16
    /// fill a padded last block (`BlockedLayout.paddedChannels`): the weights of its missing
    /// channels are zero, and X's missing channels are never read.
    static func applies(to l: ConvLayout, inputBlocked: Bool) -> Bool {
        let g = l.geometry
        guard g.input[0] == 1, g.output[0] == 1, g.kernel[0] == 1 else { return false }
        if l.groups == 1 { return true }
        return inputBlocked && l.groups == l.inChannels && l.outChannels == l.inChannels
    }

    init(_ l: ConvLayout, inputBlocked: Bool, outputBlocked: Bool) {
        self.l = l
        self.inputBlocked = inputBlocked
        self.outputBlocked = outputBlocked
        depthwise = l.groups > 1
        let g = l.geometry
        kvol = g.kernel[1] * g.kernel[2]
        let (IH, IW) = (g.input[1], g.input[2])
        PH = max(IH + g.padBegin[1], (g.output[1] - 1) * g.stride[1] + (g.kernel[1] - 1) * g.dilation[1] + 1)
        PW = max(IW + g.padBegin[2], (g.output[2] - 1) * g.stride[2] + (g.kernel[2] - 1) * g.dilation[2] + 1)
        padded = PH != IH || PW != IW || g.padBegin[1] != 0 || g.padBegin[2] != 0
        /// Outputs along one axis whose window lies inside the input.
        func inside(_ a: Int) -> Int {
            let first = (g.padBegin[a] + g.stride[a] - 1) / g.stride[a]
            let lastStart = g.input[a] - 1 - (g.kernel[a] - 1) * g.dilation[a] + g.padBegin[a]
            return lastStart < 0 ? 0 : max(0, min(g.output[a] - 1, lastStart / g.stride[a]) - first + 1)
        }
        readsUnpadded = depthwise && padded && 4 * inside(1) * inside(2) >= 3 * g.output[1] * g.output[2]
        let lanes = BlockedLayout.lanes
        colStride = inputBlocked ? lanes : 1
        rowStride = PW * colStride
        laneStride = inputBlocked ? 1 : PH * PW
        blockStride = lanes * PH * PW
        let (column, row) = (colStride, rowStride)
        taps = (0..<kvol).map { t in (t / g.kernel[2]) * g.dilation[1] * row + (t % g.kernel[2]) * g.dilation[2] * column }
        let flat = kvol == 1 && !padded && g.stride[1] == 1 && g.stride[2] == 1
        (rows, rowWidth) = flat ? (1, g.output[1] * g.output[2]) : (g.output[1], g.output[2])
        let width = rowWidth
        let tiles = Tiles.current
        depthwisePieces = tiles.depthwisePieces
        piecesByCount = tiles.blockedPieces.map { $0 == 0 ? [] : Self.pieces(width, most: $0) }
        // Vectors per group: the count whose tiles hold the most sums on average over a row's
        // pieces (ties to the larger count). Short rows fit 3 vectors better than 4: a row of 7
        // takes one 3 × 7 tile (21 sums) but two 4 × 3–4 tiles (14 on average).
        let pieces = piecesByCount
        let perGroup = (1...tiles.blockedVectors).max { a, b in
            (a * width * pieces[b].count, a) < (b * width * pieces[a].count, b)
        }!
        var groups: [(first: Int, count: Int)] = []
        let vectors = (l.outChannels + lanes - 1) / lanes
        var v = 0
        while !depthwise && v < vectors {
            let count = min(perGroup, vectors - v)
            groups.append((v, count))
            v += count
        }
        self.groups = groups
    }

    /// Floats of padded input per image (0 when X serves as it is).
    var inputScratch: Int { padded && !readsUnpadded ? storedInputChannels * PH * PW : 0 }
    /// Input channels as X stores them: whole blocks when blocked (the last one may be padded).
    var storedInputChannels: Int { inputBlocked ? BlockedLayout.paddedChannels(l.inChannels) : l.inChannels }

    /// A padded scratch this plan keeps for itself when it is small (at most `keptScratchBytes`):
    /// its border, zeroed when it is made, stays zero, since `pad` writes only the interior. A
    /// scratch from the arena, which other layers share, needs its border zeroed on every call:
    /// on MobileNetV3-Small's 14×14 and 7×7 maps with 5×5 kernels the border is 40–60 % of the
    /// scratch, and zeroing it took 2 % of a one-image run. A plan serves one lane (one thread
    /// at a time; `ConvolutionOperators.PlanCache`). Large ones (VGG's 64 channels of 226 × 226)
    /// stay with the arena, whose buffers the layers share.
    private var keptScratch: TensorBuffer?
    static let keptScratchBytes = 1 << 20

    /// The kept scratch for `workers` workers (nil when the plan needs none, or a large one).
    func keptScratch(workers: Int) -> UnsafeMutablePointer<Float>? {
        let count = scratchCount(workers: workers)
        guard count > 0, count * 4 <= Self.keptScratchBytes else { return nil }
        if let kept = keptScratch, kept.byteCount == count * 4 { return kept.floats }
        let fresh = TensorBuffer(byteCount: count * 4, zeroed: true)
        keptScratch = fresh
        return fresh.floats
    }
    /// Output channels rounded up to whole vectors.
    var paddedChannels: Int { (l.outChannels + BlockedLayout.lanes - 1) / BlockedLayout.lanes * BlockedLayout.lanes }
    var packedWeights: Int { paddedChannels * (depthwise ? 1 : l.inChannels) * kvol }
    func scratchCount(workers: Int) -> Int { workers * inputScratch }

    /// W [M, C/groups, kh, kw] in the order the register blocks read it.
    func pack(_ w: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>) {
        let lanes = BlockedLayout.lanes
        var k = 0
        if depthwise {
            for block in 0..<(paddedChannels / lanes) {
                for tap in 0..<kvol {
                    for j in 0..<lanes {
                        let c = block * lanes + j
                        p[k] = c < l.outChannels ? w[c * kvol + tap] : 0
                        k += 1
                    }
                }
            }
            return
        }
        let cin = l.inChannels
        for (first, count) in groups {
            for ci in 0..<cin {
                for tap in 0..<kvol {
                    for v in first..<(first + count) {
                        for j in 0..<lanes {
                            let co = v * lanes + j
                            p[k] = co < l.outChannels ? w[(co * cin + ci) * kvol + tap] : 0
                            k += 1
                        }
                    }
                }
            }
        }
    }

    /// Runs the convolution into `y`; `scratch` holds `scratchCount(workers:)` floats for
    /// `l.workers(threads:)` workers (nil when none are needed), with its border already zero when
    /// `zeroBorders` is false (the kept scratch). With `statistics`, a blocked Y's
    /// planes are counted there: each finished block while it is in L1 when an image runs on one
    /// thread, else in a pass over Y (`BlockedLayout.planeStatistics`).
    func run(_ x: UnsafePointer<Float>, packed: UnsafePointer<Float>, _ epilogue: ConvEpilogue,
             _ y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>?, zeroBorders: Bool = true, threads: Int,
             statistics: PlaneStatisticsSink? = nil) {
        let m = l.outChannels
        let finish = epilogue.finish(groups: 1, perGroup: m, width: paddedChannels)
        let workers = l.workers(threads: threads)
        let g = l.geometry
        let inputVolume = storedInputChannels * g.input[1] * g.input[2]
        let outputVolume = (outputBlocked ? paddedChannels : m) * g.output[1] * g.output[2]
        finish.scale.withUnsafeBufferPointer { scale in
        finish.shift.withUnsafeBufferPointer { shift in
        taps.withUnsafeBufferPointer { taps in
            let sums = DirectConvolution.Sums(rule: finish.rule, scale: scale.baseAddress!, shift: shift.baseAddress!)
            parallelWorkers(l.batch, workers: workers) { worker, images in
                let mine = scratch.map { $0 + worker * inputScratch }
                // Only the interior is ever written: zero the padding once per call.
                if let mine, zeroBorders { zeroBorder(mine) }
                let perImage = workers == 1 ? threads : 1
                let vectors = paddedChannels / BlockedLayout.lanes
                let counts = statistics != nil && outputBlocked && perImage == 1
                    ? UnsafeMutablePointer<BlockedLayout.LaneCounts>.allocate(capacity: vectors) : nil
                defer { counts?.deallocate() }
                for n in images {
                    let source = x + n * inputVolume
                    let input: UnsafePointer<Float>
                    if let mine {
                        pad(source, into: mine)
                        input = UnsafePointer(mine)
                    } else {
                        input = source
                    }
                    counts?.initialize(repeating: BlockedLayout.LaneCounts(region: statistics?.region ?? .zeros), count: vectors)
                    if readsUnpadded {
                        depthwiseUnpadded(source, packed, sums, y + n * outputVolume, counts: counts, threads: perImage)
                    } else {
                        image(input, packed, sums, taps.baseAddress!, y + n * outputVolume, counts: counts, threads: perImage)
                    }
                    if let counts, let statistics {
                        let plane = UInt64(g.output[1] * g.output[2])
                        for v in 0..<vectors {
                            for j in 0..<min(BlockedLayout.lanes, m - v * BlockedLayout.lanes) {
                                statistics.record(counts[v].statistics(lane: j, count: plane), image: n, channel: v * BlockedLayout.lanes + j)
                            }
                        }
                    }
                }
            }
        }
        }
        }
        if let statistics, outputBlocked, l.workers(threads: threads) == 1 && threads > 1 {
            BlockedLayout.planeStatistics(y, shape: [l.batch, m, g.output[1], g.output[2]], into: statistics, threads: threads)
        }
    }

    /// Depthwise with padding, straight from the unpadded blocked input: the outputs whose window
    /// lies inside the input run the register tile with taps for X's own row length; the few at
    /// the borders sum only the taps that land inside. Copying each image into a padded scratch
    /// first cost more than the sums (a depthwise output sums 9 products per channel).
    private func depthwiseUnpadded(_ x: UnsafePointer<Float>, _ packed: UnsafePointer<Float>, _ sums: DirectConvolution.Sums,
                                   _ y: UnsafeMutablePointer<Float>, counts: UnsafeMutablePointer<BlockedLayout.LaneCounts>?,
                                   threads: Int) {
        let g = l.geometry, lanes = BlockedLayout.lanes
        let (IH, IW, OH, OW) = (g.input[1], g.input[2], g.output[1], g.output[2])
        let (sh, sw, dh, dw) = (g.stride[1], g.stride[2], g.dilation[1], g.dilation[2])
        let (top, left, KH, KW) = (g.padBegin[1], g.padBegin[2], g.kernel[1], g.kernel[2])
        let plane = OH * OW, outBlock = plane * lanes, inBlock = IH * IW * lanes
        let rule = sums.rule, m = l.outChannels, blocked = outputBlocked
        // Taps in X itself, and the columns whose whole window is inside: iw0 = ow·sw − left ≥ 0
        // and iw0 + (KW − 1)·dw < IW.
        let inner = (0..<kvol).map { t in ((t / KW) * dh * IW + (t % KW) * dw) * lanes }
        let firstInside = min(OW, (left + sw - 1) / sw)
        let lastInside = (IW - 1 - (KW - 1) * dw + left) >= 0 ? min(OW - 1, (IW - 1 - (KW - 1) * dw + left) / sw) : -1
        let interior = lastInside >= firstInside ? firstInside..<(lastInside + 1) : 0..<0
        let pieces = Self.pieces(interior.count, most: depthwisePieces).map { ($0.0 + interior.lowerBound, $0.1) }
        inner.withUnsafeBufferPointer { taps in
        parallelFor((paddedChannels / lanes) * OH, threads: threads, cost: OW * kvol * lanes) { k in
            let (b, oh) = (k / OH, k % OH)
            let ih0 = oh * sh - top
            let rowInside = ih0 >= 0 && ih0 + (KH - 1) * dh < IH
            let xb = x + b * inBlock, w = packed + b * kvol * lanes
            let s = load16(sums.scale + b * lanes), t = load16(sums.shift + b * lanes)
            var tileStore = Accumulators24()
            withUnsafeMutableBytes(of: &tileStore) { raw in
                let tile = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                // With a blocked Y, the finished row is counted at once, while it is in L1 (per
                // piece, the calls cost as much as the counting).
                defer { counts?[b].add(y + b * outBlock + oh * OW * lanes, OW, apart: lanes) }
                /// Outputs `ow..<ow + count` of this row are in `to` (blocked Y, or the tile): for a
                /// plain Y, scattered into its planes.
                func finished(_ to: UnsafeMutablePointer<Float>, _ ow: Int, _ count: Int) {
                    if !blocked { Self.scatter(tile, vectors: 1, outputs: count, y + b * lanes * plane + oh * OW + ow, plane, lanes: m - b * lanes) }
                }
                /// One output from the taps inside X.
                func border(_ ow: Int) {
                    let iw0 = ow * sw - left
                    var acc = F16()
                    for kh in 0..<KH {
                        let ih = ih0 + kh * dh
                        guard ih >= 0 && ih < IH else { continue }
                        for kw in 0..<KW {
                            let iw = iw0 + kw * dw
                            guard iw >= 0 && iw < IW else { continue }
                            acc = acc.addingProduct(load16(xb + (ih * IW + iw) * lanes), load16(w + (kh * KW + kw) * lanes))
                        }
                    }
                    let to = blocked ? y + b * outBlock + (oh * OW + ow) * lanes : tile
                    store16(rule(acc, s, t), to)
                    finished(to, ow, 1)
                }
                guard rowInside else {
                    for ow in 0..<OW { border(ow) }
                    return
                }
                for ow in 0..<interior.lowerBound { border(ow) }
                let src = xb + ih0 * IW * lanes
                for (ow, count) in pieces {
                    let from = src + (ow * sw - left) * lanes
                    let to = blocked ? y + b * outBlock + (oh * OW + ow) * lanes : tile
                    switch count {
                    case 8: Self.depthwiseTile(Eight.self, from, sw * lanes, taps.baseAddress!, kvol, w, to, rule, s, t)
                    case 7: Self.depthwiseTile(Seven.self, from, sw * lanes, taps.baseAddress!, kvol, w, to, rule, s, t)
                    case 6: Self.depthwiseTile(Six.self, from, sw * lanes, taps.baseAddress!, kvol, w, to, rule, s, t)
                    case 5: Self.depthwiseTile(Five.self, from, sw * lanes, taps.baseAddress!, kvol, w, to, rule, s, t)
                    case 4: Self.depthwiseTile(Four.self, from, sw * lanes, taps.baseAddress!, kvol, w, to, rule, s, t)
                    case 3: Self.depthwiseTile(Three.self, from, sw * lanes, taps.baseAddress!, kvol, w, to, rule, s, t)
                    case 2: Self.depthwiseTile(Two.self, from, sw * lanes, taps.baseAddress!, kvol, w, to, rule, s, t)
                    default: Self.depthwiseTile(One.self, from, sw * lanes, taps.baseAddress!, kvol, w, to, rule, s, t)
                    }
                    finished(to, ow, count)
                }
                for ow in interior.upperBound..<OW { border(ow) }
            }
        }
        }
    }

    /// Zeroes the padding around the interior of the padded scratch (`pad` writes only the interior).
    private func zeroBorder(_ p: UnsafeMutablePointer<Float>) {
        let g = l.geometry, (IH, IW) = (g.input[1], g.input[2]), (top, left) = (g.padBegin[1], g.padBegin[2])
        let lanes = BlockedLayout.lanes
        let (planes, cell) = inputBlocked ? (storedInputChannels / lanes, lanes) : (l.inChannels, 1)
        let right = (PW - left - IW) * cell
        for c in 0..<planes {
            let base = p + c * PH * PW * cell
            zeroFloats(base, top * PW * cell)
            for ih in 0..<IH {
                let row = base + (top + ih) * PW * cell
                zeroFloats(row, left * cell)
                zeroFloats(row + (left + IW) * cell, right)
            }
            zeroFloats(base + (top + IH) * PW * cell, (PH - top - IH) * PW * cell)
        }
    }

    /// Copies one image into the interior of the padded scratch.
    private func pad(_ x: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>) {
        let g = l.geometry, (IH, IW) = (g.input[1], g.input[2]), (top, left) = (g.padBegin[1], g.padBegin[2])
        let lanes = BlockedLayout.lanes
        if inputBlocked {
            for b in 0..<(storedInputChannels / lanes) {
                for ih in 0..<IH {
                    copyFloats(p + b * blockStride + (ih + top) * rowStride + left * lanes, x + (b * IH + ih) * IW * lanes, IW * lanes)
                }
            }
        } else {
            for c in 0..<l.inChannels {
                for ih in 0..<IH {
                    copyFloats(p + c * PH * PW + (ih + top) * PW + left, x + (c * IH + ih) * IW, IW)
                }
            }
        }
    }

    /// One image: `input` is its padded input (or X's own, unpadded), `y` its output.
    /// With `counts` (one per channel vector; only with a blocked Y and one thread), each finished
    /// block is counted.
    private func image(_ input: UnsafePointer<Float>, _ packed: UnsafePointer<Float>, _ sums: DirectConvolution.Sums,
                       _ taps: UnsafePointer<Int>, _ y: UnsafeMutablePointer<Float>, counts: UnsafeMutablePointer<BlockedLayout.LaneCounts>?,
                       threads: Int) {
        let g = l.geometry, (OH, OW) = (g.output[1], g.output[2])
        let (sh, sw) = (g.stride[1], g.stride[2])
        let lanes = BlockedLayout.lanes
        let plane = OH * OW, outBlock = plane * lanes
        let rule = sums.rule
        let m = l.outChannels, blocked = outputBlocked
        if depthwise {
            let blocks = paddedChannels / lanes
            let pieces = Self.pieces(OW, most: depthwisePieces)
            parallelFor(blocks * OH, threads: threads, cost: OW * kvol * lanes) { k in
                let (b, oh) = (k / OH, k % OH)
                let src = input + b * blockStride + oh * sh * rowStride, w = packed + b * kvol * lanes
                let s = load16(sums.scale + b * lanes), t = load16(sums.shift + b * lanes)
                // A plain Y: the block is finished in a tile, then scattered into the planes.
                var tileStore = Accumulators24()
                withUnsafeMutableBytes(of: &tileStore) { raw in
                    let tile = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                    for (ow, count) in pieces {
                        let from = src + ow * sw * lanes
                        let to = blocked ? y + b * outBlock + (oh * OW + ow) * lanes : tile
                        switch count {
                        case 8: Self.depthwiseTile(Eight.self, from, sw * lanes, taps, kvol, w, to, rule, s, t)
                        case 7: Self.depthwiseTile(Seven.self, from, sw * lanes, taps, kvol, w, to, rule, s, t)
                        case 6: Self.depthwiseTile(Six.self, from, sw * lanes, taps, kvol, w, to, rule, s, t)
                        case 5: Self.depthwiseTile(Five.self, from, sw * lanes, taps, kvol, w, to, rule, s, t)
                        case 4: Self.depthwiseTile(Four.self, from, sw * lanes, taps, kvol, w, to, rule, s, t)
                        case 3: Self.depthwiseTile(Three.self, from, sw * lanes, taps, kvol, w, to, rule, s, t)
                        case 2: Self.depthwiseTile(Two.self, from, sw * lanes, taps, kvol, w, to, rule, s, t)
                        default: Self.depthwiseTile(One.self, from, sw * lanes, taps, kvol, w, to, rule, s, t)
                        }
                        if !blocked { Self.scatter(tile, vectors: 1, outputs: count, y + b * lanes * plane + oh * OW + ow, plane, lanes: m - b * lanes) }
                    }
                }
                // With a blocked Y, the finished row is counted at once, while it is in L1.
                counts?[b].add(y + b * outBlock + oh * OW * lanes, OW, apart: lanes)
            }
            return
        }
        let cin = l.inChannels
        let groups = groups
        let (piecesByCount, rows) = (piecesByCount, rows)
        let posStride = sw * colStride
        let (lanesApart, blocksApart) = (laneStride, blockStride)
        if blocked && inputBlocked && kvol > 1 && cin >= 4 * lanes {
            // Block by block of 16 input channels, all rows of a task per block: the block's
            // weights for a group of output vectors (4 × 16 × 16 × 9 floats for 3×3: 36 KB) stay
            // in L1 over the rows, where summing every input channel per tile streamed the group's
            // whole filter for each piece of a row, from L3 for each image of a large filter
            // (ResNet's 512-channel 7×7 layers: 9.4 MB). The partial sums wait in Y, in cache.
            let cinBlocks = storedInputChannels / lanes
            let chunks = max(1, min(rows, (2 * threads + groups.count - 1) / groups.count))
            parallelFor(groups.count * chunks, threads: threads, cost: rowWidth * rows / chunks * cin * kvol * 64) { k in
                let (first, count) = groups[k / chunks], chunk = k % chunks
                // Taken once per task: read in the row loop, the array was retained per row.
                let pieces = piecesByCount[count]
                let es = sums.scale + first * lanes, et = sums.shift + first * lanes
                let myRows = (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks)
                let blockWeights = lanes * kvol * count * lanes
                // The next block's weights are fetched a share per row while this block is summed:
                // at batch 1 they come from memory (9.4 MB for a 512-channel 3×3 filter).
                let linesPerRow = (blockWeights / 16 + myRows.count - 1) / myRows.count
                for cb in 0..<cinBlocks {
                    let w = packed + first * lanes * cin * kvol + cb * blockWeights
                    let (accumulate, finishing) = (cb > 0, cb == cinBlocks - 1)
                    // The channels of this block (fewer in a padded last block).
                    let blockChannels = min(lanes, cin - cb * lanes)
                    for oh in myRows {
                        // This row's share of the next block's lines (none past its end; the range
                        // is never reversed: -Ounchecked would not stop a reversed one).
                        let firstLine = (oh - myRows.lowerBound) * linesPerRow
                        let lines = cb + 1 < cinBlocks ? max(0, min(linesPerRow, blockWeights / 16 - firstLine)) : 0
                        for line in 0..<lines { modeltool_prefetch(w + blockWeights + (firstLine + line) * 16) }
                        let src = input + oh * sh * rowStride + cb * blocksApart
                        for (ow, n) in pieces {
                            let from = src + ow * posStride
                            let to = y + first * outBlock + (oh * OW + ow) * lanes
                            switch count {
                            case 4: Self.row(Four.self, n, from, blockChannels, lanesApart, blocksApart, posStride, taps, kvol, w, to, outBlock,
                                             rule, es, et, accumulate: accumulate, finishing: finishing)
                            case 3: Self.row(Three.self, n, from, blockChannels, lanesApart, blocksApart, posStride, taps, kvol, w, to, outBlock,
                                             rule, es, et, accumulate: accumulate, finishing: finishing)
                            case 2: Self.row(Two.self, n, from, blockChannels, lanesApart, blocksApart, posStride, taps, kvol, w, to, outBlock,
                                             rule, es, et, accumulate: accumulate, finishing: finishing)
                            default: Self.row(One.self, n, from, blockChannels, lanesApart, blocksApart, posStride, taps, kvol, w, to, outBlock,
                                              rule, es, et, accumulate: accumulate, finishing: finishing)
                            }
                        }
                        // The finished row, counted at once while it is in L1 (per piece, the
                        // calls cost as much as the counting).
                        if finishing, let counts {
                            let row = y + first * outBlock + oh * OW * lanes
                            for o in 0..<count { counts[first + o].add(row + o * outBlock, rowWidth, apart: lanes) }
                        }
                    }
                }
            }
            return
        }
        // A flat row (a whole 1×1 plane) is cut into `splits` runs of pieces when its threads
        // would otherwise get unequal shares of groups, or read more weights than input: a single
        // image's pointwise convolution with a few output vectors (MobileNetV2's 32 → 16 on
        // 112×112 had one task) then gives every thread a run of the plane. Tasks go split by
        // split, so that each thread's contiguous share takes every group. Otherwise each thread
        // takes its groups, so reads only their weights (ResNet-50's 512 → 2048 on 7×7: 4 MB of
        // weights for 100 KB of input; split by runs, each thread read all of them).
        let splits = rows == 1 && threads > 1 && (groups.count < 2 * threads || packedWeights < cin * rowWidth) ? threads : 1
        parallelFor(splits * groups.count * rows, threads: threads, cost: rowWidth / splits * cin * kvol * 64) { k in
            let split = k / (groups.count * rows), task = k % (groups.count * rows)
            let (first, count) = groups[task / rows], oh = task % rows
            let all = piecesByCount[count]
            let mine = all[(all.count * split / splits)..<(all.count * (split + 1) / splits)]
            guard let start = mine.first?.0 else { return }
            let end = mine.last!.0 + mine.last!.1
            let w = packed + first * lanes * cin * kvol
            let src = input + oh * sh * rowStride
            let es = sums.scale + first * lanes, et = sums.shift + first * lanes
            var tileStore = Accumulators24()
            withUnsafeMutableBytes(of: &tileStore) { raw in
                let tile = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                // A blocked Y's finished outputs are counted 32 or more at a time (per piece, the
                // calls cost as much as the counting), while they are in L1 (a flat 1×1 "row" is
                // the whole plane).
                var counted = start
                for (ow, n) in mine {
                    let from = src + ow * posStride
                    let (to, apart) = blocked ? (y + first * outBlock + (oh * OW + ow) * lanes, outBlock) : (tile, n * lanes)
                    switch count {
                    case 4: Self.row(Four.self, n, from, cin, lanesApart, blocksApart, posStride, taps, kvol, w, to, apart, rule, es, et)
                    case 3: Self.row(Three.self, n, from, cin, lanesApart, blocksApart, posStride, taps, kvol, w, to, apart, rule, es, et)
                    case 2: Self.row(Two.self, n, from, cin, lanesApart, blocksApart, posStride, taps, kvol, w, to, apart, rule, es, et)
                    default: Self.row(One.self, n, from, cin, lanesApart, blocksApart, posStride, taps, kvol, w, to, apart, rule, es, et)
                    }
                    if !blocked {
                        Self.scatter(tile, vectors: count, outputs: n, y + first * lanes * plane + oh * OW + ow, plane, lanes: m - first * lanes)
                    }
                    if let counts, ow + n - counted >= 32 || ow + n == end {
                        let from = y + first * outBlock + (oh * OW + counted) * lanes
                        for o in 0..<count { counts[first + o].add(from + o * outBlock, ow + n - counted, apart: lanes) }
                        counted = ow + n
                    }
                }
            }
        }
    }
}
