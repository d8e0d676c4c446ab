import XCTest
import ModelIR
@testable import ModelRuntime

/// The channel-blocked layout (NCHW16c, `BlockedLayout`, `BlockedConvolution`): every graph here
/// gives the same outputs with `Interpreter.blockedLayout` on as with it off (the plain NCHW
/// kernels, verified elsewhere against onnxruntime), and the blocked path is really taken where
/// it should be (see `BlockedLayoutTests.check` and its probes).
final class BlockedLayoutTests: XCTestCase {
    // MARK: - Conversions and the Conv operator

    /// planar → blocked → planar is the identity, and element (n, c, h, w) sits at
    /// ((n·C/16 + c/16)·H·W + h·W + w)·16 + c % 16 of the blocked storage.
    func testConversionRoundTripAndElementPositions() throws {
        for (shape, threads) in [([1, 16, 1, 1], 1), ([2, 32, 3, 5], 2), ([3, 48, 7, 1], 1), ([1, 64, 4, 4], 2)] {
            let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
            let x = randomTensor(shape, seed: UInt64(c))
            let ctx = ExecContext(arena: Arena(), threads: threads)
            let b = try BlockedLayout.blocked(x, ctx)
            XCTAssertTrue(b.blocked)
            XCTAssertEqual(b.shape, shape, "the shape stays logical NCHW")
            let plain = x.floats, stored = b.floats
            var misplaced = 0
            for i in 0..<n { for ch in 0..<c { for y in 0..<h { for z in 0..<w {
                let at = ((i * c / 16 + ch / 16) * h * w + y * w + z) * 16 + ch % 16
                if stored[at] != plain[((i * c + ch) * h + y) * w + z] { misplaced += 1 }
            } } } }
            XCTAssertEqual(misplaced, 0, "\(shape)")
            let back = try BlockedLayout.planar(b, ctx)
            XCTAssertFalse(back.blocked)
            XCTAssertEqual(back.shape, shape)
            XCTAssertEqual(back.floats.map(\.bitPattern), plain.map(\.bitPattern), "\(shape)")
        }
        XCTAssertTrue(BlockedLayout.fits([2, 32, 5, 5]))
        XCTAssertFalse(BlockedLayout.fits([2, 24, 5, 5]))
        XCTAssertFalse(BlockedLayout.fits([2, 32, 5]))
        XCTAssertFalse(BlockedLayout.fits([2, 0, 5, 5]))
    }

    /// Blocked tensors joined along the channels are the blocked form of the plain concatenation;
    /// inputs of different sizes are refused.
    func testConcatChannelsJoinsEachImagesBlocks() throws {
        let ctx = ExecContext(arena: Arena(), threads: 2)
        let parts = [randomTensor([3, 16, 2, 5], seed: 1), randomTensor([3, 32, 2, 5], seed: 2), randomTensor([3, 16, 2, 5], seed: 3)]
        let joined = try BlockedLayout.concatChannels(parts.map { try BlockedLayout.blocked($0, ctx) }, ctx)
        XCTAssertTrue(joined.blocked)
        XCTAssertEqual(joined.shape, [3, 64, 2, 5])
        let expected = try DataMovementOperators.concat(parts, axis: 1, ctx)
        XCTAssertEqual(try BlockedLayout.planar(joined, ctx).floats.map(\.bitPattern), expected.floats.map(\.bitPattern))
        let other = try BlockedLayout.blocked(randomTensor([3, 16, 2, 4], seed: 4), ctx)
        XCTAssertThrowsError(try BlockedLayout.concatChannels([try BlockedLayout.blocked(parts[0], ctx), other], ctx))
        XCTAssertThrowsError(try BlockedLayout.concatChannels([try BlockedLayout.blocked(parts[0], ctx), parts[1]], ctx), "a plain input")
        // Large enough to be split between the two threads: one image (a DenseNet layer), and
        // three images whose halves meet inside the second.
        for shapes in [[[1, 16, 56, 56], [1, 48, 56, 56], [1, 32, 56, 56]], [[3, 16, 30, 30], [3, 32, 30, 30], [3, 16, 30, 30]]] {
            let big = shapes.enumerated().map { randomTensor($0.element, seed: UInt64(10 + $0.offset)) }
            let joined = try BlockedLayout.concatChannels(big.map { try BlockedLayout.blocked($0, ctx) }, ctx)
            let expected = try DataMovementOperators.concat(big, axis: 1, ctx)
            XCTAssertTrue(try BlockedLayout.planar(joined, ctx).floats == expected.floats, "\(shapes)")
        }
    }

    /// The Conv operator asked for a blocked output (`ExecContext.blockedOutput`, as the
    /// interpreter asks when every reader takes it) writes one exactly when
    /// `BlockedConvolution.applies`, from a plain or blocked input, with the plain operator's values.
    func testConvOperatorWritesBlockedOutputWhereItApplies() throws {
        struct Case {
            let what: String, x: [Int], cout: Int, kernel: [Int], group: Int
            var attributes: [Attribute] = []
            let inputBlocked: Bool, applies: Bool
        }
        let cases = [
            Case(what: "3 channels in", x: [1, 3, 6, 7], cout: 16, kernel: [3, 3], group: 1,
                 attributes: [ints("pads", [1, 1, 1, 1])], inputBlocked: false, applies: true),
            Case(what: "1 channel in, 5×5 stride 2", x: [3, 1, 9, 11], cout: 32, kernel: [5, 5], group: 1,
                 attributes: [ints("pads", [2, 2, 2, 2]), ints("strides", [2, 2])], inputBlocked: false, applies: true),
            Case(what: "plain input of two blocks, 1×1", x: [2, 32, 4, 5], cout: 16, kernel: [1, 1], group: 1,
                 inputBlocked: false, applies: true),
            Case(what: "blocked, dilation 2", x: [1, 16, 7, 8], cout: 48, kernel: [3, 3], group: 1,
                 attributes: [ints("pads", [2, 2, 2, 2]), ints("dilations", [2, 2])], inputBlocked: true, applies: true),
            Case(what: "blocked, asymmetric pads", x: [2, 32, 5, 6], cout: 80, kernel: [3, 3], group: 1,
                 attributes: [ints("pads", [0, 1, 2, 0])], inputBlocked: true, applies: true),
            Case(what: "blocked, SAME_UPPER stride 2", x: [1, 16, 8, 7], cout: 64, kernel: [3, 3], group: 1,
                 attributes: [string("auto_pad", "SAME_UPPER"), ints("strides", [2, 2])], inputBlocked: true, applies: true),
            // 64 or more blocked input channels with a 3×3 kernel: summed one input block at a time.
            Case(what: "64 channels in, by input blocks", x: [2, 64, 9, 8], cout: 48, kernel: [3, 3], group: 1,
                 attributes: [ints("pads", [1, 1, 1, 1])], inputBlocked: true, applies: true),
            // More rows (150) than a block's 144 lines of weights: the last rows have no share of
            // the prefetch (a reversed range there hung YOLOv8n's run under -Ounchecked).
            Case(what: "64 channels in, by input blocks, 150 rows", x: [1, 64, 150, 3], cout: 16, kernel: [3, 3], group: 1,
                 attributes: [ints("pads", [1, 1, 1, 1])], inputBlocked: true, applies: true),
            Case(what: "96 channels in, by input blocks, stride 2", x: [1, 96, 15, 14], cout: 80, kernel: [3, 3], group: 1,
                 attributes: [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])], inputBlocked: true, applies: true),
            Case(what: "depthwise stride 2", x: [2, 32, 7, 9], cout: 32, kernel: [3, 3], group: 32,
                 attributes: [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])], inputBlocked: true, applies: true),
            Case(what: "depthwise from a plain input", x: [1, 16, 5, 5], cout: 16, kernel: [3, 3], group: 16,
                 inputBlocked: false, applies: false),
            Case(what: "depthwise, multiplier 2", x: [1, 16, 5, 5], cout: 32, kernel: [3, 3], group: 16,
                 inputBlocked: true, applies: false),
            Case(what: "two groups", x: [1, 32, 5, 5], cout: 32, kernel: [3, 3], group: 2, inputBlocked: true, applies: false),
            // Channels that are not a multiple of 16: a padded last block, in and out.
            Case(what: "20 output channels", x: [1, 16, 5, 5], cout: 20, kernel: [3, 3], group: 1, inputBlocked: true, applies: true),
            Case(what: "20 output channels, plain", x: [1, 3, 5, 5], cout: 20, kernel: [3, 3], group: 1, inputBlocked: false, applies: true),
            Case(what: "24 channels in, 40 out", x: [2, 24, 6, 5], cout: 40, kernel: [3, 3], group: 1,
                 attributes: [ints("pads", [1, 1, 1, 1])], inputBlocked: true, applies: true),
            Case(what: "72 channels in, by input blocks", x: [1, 72, 7, 6], cout: 24, kernel: [3, 3], group: 1,
                 attributes: [ints("pads", [1, 1, 1, 1])], inputBlocked: true, applies: true),
            Case(what: "depthwise 72, 5×5 stride 2", x: [2, 72, 9, 8], cout: 72, kernel: [5, 5], group: 72,
                 attributes: [ints("pads", [2, 2, 2, 2]), ints("strides", [2, 2])], inputBlocked: true, applies: true),
            Case(what: "depthwise 24, unpadded read", x: [1, 24, 20, 18], cout: 24, kernel: [3, 3], group: 24,
                 attributes: [ints("pads", [1, 1, 1, 1])], inputBlocked: true, applies: true),
        ]
        var rng = SplitMix64(7)
        for c in cases {
            let node = Node(name: c.what, opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"],
                            attributes: c.attributes + [int("group", Int64(c.group))])
            let conv = try KernelRegistry.entry(domain: "", opType: "Conv", opset: 13)!.make(node, 13)
            let x = randomTensor(c.x, seed: rng.next())
            let w = randomTensor([c.cout, c.x[1] / c.group] + c.kernel, seed: rng.next())
            let b = randomTensor([c.cout], seed: rng.next())
            let geometry = try WindowGeometry(spatial: Array(c.x[2...]), kernel: c.kernel, WindowAttributes.forKernels(node))
            let layout = ConvLayout(batch: c.x[0], inChannels: c.x[1], outChannels: c.cout, groups: c.group, geometry: geometry)
            XCTAssertEqual(BlockedConvolution.applies(to: layout, inputBlocked: c.inputBlocked), c.applies, c.what)
            try withEachTileTable { tiles in for threads in [1, 2] {
                let what = "\(c.what), \(threads) thread(s), \(tiles)"
                var ctx = ExecContext(arena: Arena(), threads: threads)
                let expected = try conv([x, w, b], ctx)[0]
                XCTAssertFalse(expected.blocked, "\(what): no blocked output unless asked")
                ctx.blockedOutput = true
                let input = c.inputBlocked ? try BlockedLayout.blocked(x, ctx) : x
                let y = try conv([input, w, b], ctx)[0]
                XCTAssertEqual(y.blocked, c.applies, what)
                XCTAssertEqual(y.shape, expected.shape, what)
                assertClose((y.blocked ? try BlockedLayout.planar(y, ctx) : y).floats, expected.floats, what)
            } }
        }
    }

    /// Depthwise convolutions on maps large enough to read X unpadded (`readsUnpadded`: border
    /// outputs under a quarter), into a blocked and a plain Y, equal the plain operator's values;
    /// and a 1×1 convolution of 16 blocked channels into a plain Y of 24 (the plain kernels).
    func testDepthwiseWithoutThePaddedCopy() throws {
        let cases: [(String, [Int], [Int], [Attribute])] = [
            ("3×3 pad 1", [2, 32, 20, 18], [3, 3], [ints("pads", [1, 1, 1, 1])]),
            ("stride 2", [1, 16, 21, 24], [3, 3], [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])]),
            ("dilation 2", [1, 16, 32, 30], [3, 3], [ints("pads", [2, 2, 2, 2]), ints("dilations", [2, 2])]),
            ("asymmetric pads", [2, 16, 18, 19], [3, 3], [ints("pads", [0, 1, 2, 0])]),
            ("5×5 SAME_UPPER stride 2", [1, 32, 41, 40], [5, 5], [string("auto_pad", "SAME_UPPER"), ints("strides", [2, 2])]),
            ("3×3 on 4×4 (padded copy)", [1, 16, 4, 4], [3, 3], [ints("pads", [1, 1, 1, 1])]),
        ]
        var rng = SplitMix64(11)
        for (what, shape, kernel, attributes) in cases {
            let c = shape[1]
            let node = Node(name: what, opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"],
                            attributes: attributes + [int("group", Int64(c))])
            let conv = try KernelRegistry.entry(domain: "", opType: "Conv", opset: 13)!.make(node, 13)
            let x = randomTensor(shape, seed: rng.next()), w = randomTensor([c, 1] + kernel, seed: rng.next())
            let b = randomTensor([c], seed: rng.next())
            let geometry = try WindowGeometry(spatial: Array(shape[2...]), kernel: kernel, WindowAttributes.forKernels(node))
            let layout = ConvLayout(batch: shape[0], inChannels: c, outChannels: c, groups: c, geometry: geometry)
            XCTAssertEqual(BlockedConvolution(layout, inputBlocked: true, outputBlocked: true).readsUnpadded,
                           !what.contains("padded copy"), what)
            for threads in [1, 2] {
                var ctx = ExecContext(arena: Arena(), threads: threads)
                let expected = try conv([x, w, b], ctx)[0]
                let input = try BlockedLayout.blocked(x, ctx)
                for blockedOutput in [true, false] {
                    ctx.blockedOutput = blockedOutput
                    let y = try conv([input, w, b], ctx)[0]
                    XCTAssertEqual(y.blocked, blockedOutput, what)
                    assertClose((y.blocked ? try BlockedLayout.planar(y, ctx) : y).floats, expected.floats,
                                "\(what), \(threads) thread(s), \(blockedOutput ? "blocked" : "plain") Y")
                }
            }
        }
        let node = Node(name: "1×1", opType: "Conv", inputs: ["x", "w"], outputs: ["y"])
        let conv = try KernelRegistry.entry(domain: "", opType: "Conv", opset: 13)!.make(node, 13)
        let x = randomTensor([2, 16, 9, 10], seed: 5), w = randomTensor([24, 16, 1, 1], seed: 6)
        let ctx = ExecContext(arena: Arena(), threads: 1)
        let expected = try conv([x, w], ctx)[0]
        let y = try conv([try BlockedLayout.blocked(x, ctx), w], ctx)[0]
        XCTAssertFalse(y.blocked)
        assertClose(y.floats, expected.floats, "1×1 from blocked X into a plain Y of 24 channels")
    }

    /// One Conv operator run with changing sizes (a last, smaller batch slice; another image
    /// size) and layouts keeps a plan per size: each run equals a fresh operator's, for the
    /// blocked, the direct and the depthwise kernels. With AVX-512's tiles, 64 output channels
    /// are summed 3 vectors at a time on rows of 7 but 4 on rows of 9: the weights kept packed
    /// for one plan must not serve the other.
    func testConvPlansFollowTheInputSizes() throws {
        let cases: [(String, Int, Int, Int)] = [("ungrouped 3×3", 32, 32, 1), ("ungrouped 3×3, 64 out", 32, 64, 1),
                                                ("depthwise", 32, 32, 32), ("direct, 20 → 50", 20, 50, 1)]
        try withEachTileTable { tiles in for (what, c, m, group) in cases {
            let node = Node(name: what, opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"],
                            attributes: [ints("pads", [1, 1, 1, 1]), int("group", Int64(group))])
            let entry = KernelRegistry.entry(domain: "", opType: "Conv", opset: 13)!
            let kept = try entry.make(node, 13)
            let w = randomTensor([m, c / group, 3, 3], seed: 21), b = randomTensor([m], seed: 22)
            // One arena per layout, as a lane keeps its own: the plans are kept per arena.
            let arenas = [Arena(), Arena()]
            for (k, shape) in [[1, c, 9, 9], [2, c, 7, 11], [1, c, 6, 7], [1, c, 9, 9], [3, c, 5, 5]].enumerated() {
                let x = randomTensor(shape, seed: UInt64(30 + k))
                for blocked in c % 16 == 0 ? [false, true] : [false] {
                    var ctx = ExecContext(arena: arenas[blocked ? 1 : 0], threads: 2)
                    ctx.blockedLayout = blocked
                    ctx.blockedOutput = blocked
                    let input = blocked ? try BlockedLayout.blocked(x, ctx) : x
                    let got = try kept([input, w, b], ctx)[0]
                    let fresh = try entry.make(node, 13)([input, w, b], ctx)[0]
                    XCTAssertEqual(got.shape, fresh.shape, what)
                    XCTAssertEqual(got.blocked, fresh.blocked, what)
                    XCTAssertTrue(got.floats == fresh.floats, "\(what), X \(shape), \(blocked ? "blocked" : "plain"), \(tiles)")
                }
            }
        } }
    }

    /// A plan keeps its small padded scratch from call to call (`BlockedConvolution.keptScratch`)
    /// and never zeroes its border again: the border must stay zero whatever the images. The
    /// same plan, three different images, each after a freed buffer of the scratch's size full of
    /// large values (which malloc tends to hand out next): every result equals the plain kernels'.
    func testKeptPaddedScratchKeepsItsBorderZero() throws {
        let cases: [(String, Int, Int, Int64)] = [("ungrouped 3×3", 32, 1, 3), ("depthwise 5×5", 32, 32, 5)]
        for (what, c, group, k) in cases {
            let node = Node(name: what, opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"],
                            attributes: [ints("pads", [k / 2, k / 2, k / 2, k / 2]), int("group", Int64(group))])
            let entry = KernelRegistry.entry(domain: "", opType: "Conv", opset: 13)!
            let kept = try entry.make(node, 13)
            let w = randomTensor([c, c / Int(group), Int(k), Int(k)], seed: 41), b = randomTensor([c], seed: 42)
            let arena = Arena()
            let scratchFloats = c * (7 + Int(k) - 1) * (7 + Int(k) - 1)
            for image in 0..<3 {
                let x = randomTensor([1, c, 7, 7], seed: UInt64(50 + image))
                var ctx = ExecContext(arena: arena, threads: 1)
                ctx.blockedOutput = true
                let input = try BlockedLayout.blocked(x, ctx)
                let junk = UnsafeMutableRawPointer.allocate(byteCount: scratchFloats * 4, alignment: 64)
                junk.initializeMemory(as: Float.self, repeating: 1e6, count: scratchFloats)
                junk.deallocate()
                let y = try kept([input, w, b], ctx)[0]
                XCTAssertTrue(y.blocked, what)
                let got = try BlockedLayout.planar(y, ctx).floats
                var plain = ExecContext(arena: Arena(), threads: 1)
                plain.blockedLayout = false
                let want = try entry.make(node, 13)([x, w, b], plain)[0].floats
                XCTAssertEqual(got.count, want.count)
                let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThan(worst, 1e-3, "\(what), image \(image)")
            }
        }
    }

    /// A rank-3 (1-D) convolution never writes the blocked layout, although its geometry would
    /// fit the kernel: blocked tensors are [N, C, H, W].
    func testOneDimensionalConvOperatorStaysPlain() throws {
        let node = Node(opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: [ints("pads", [1, 1])])
        let conv = try KernelRegistry.entry(domain: "", opType: "Conv", opset: 13)!.make(node, 13)
        var ctx = ExecContext(arena: Arena(), threads: 1)
        ctx.blockedOutput = true
        let y = try conv([randomTensor([2, 3, 11], seed: 1), randomTensor([16, 3, 3], seed: 2)], ctx)[0]
        XCTAssertFalse(y.blocked)
        XCTAssertEqual(y.shape, [2, 16, 11])
    }

    // MARK: - Convolution chains

    /// Conv → Relu → Conv → Relu over a range of geometries, from 1 or 3 input channels.
    func testConvChainGeometries() throws {
        let geometries: [(String, [Int], [Attribute])] = [
            ("3×3 pad 1", [3, 3], [ints("pads", [1, 1, 1, 1])]),
            ("stride 2", [3, 3], [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])]),
            ("dilation 2", [3, 3], [ints("pads", [2, 2, 2, 2]), ints("dilations", [2, 2])]),
            ("asymmetric pads", [3, 3], [ints("pads", [0, 1, 2, 0])]),
            ("SAME_UPPER", [3, 3], [string("auto_pad", "SAME_UPPER")]),
            ("SAME_UPPER stride 2", [3, 3], [string("auto_pad", "SAME_UPPER"), ints("strides", [2, 2])]),
            ("1×1", [1, 1], []),
            ("5×5", [5, 5], [ints("pads", [2, 2, 2, 2])]),
            ("3×1 stride 1×2", [3, 1], [ints("pads", [1, 0, 1, 0]), ints("strides", [1, 2])]),
        ]
        for (what, kernel, attributes) in geometries {
            for cin in [1, 3] {
                var g = GraphBuilder(seed: UInt64(cin))
                let r1 = g.relu(g.conv("x", cin, 16, kernel: kernel, attributes))
                let r2 = g.relu(g.conv(r1, 16, 32, kernel: kernel, attributes))
                try check(g.graph(outputs: [r2]), ["x": randomTensor([2, cin, 11, 10], seed: 3)],
                          blocked: [r1: true, r2: false], "\(what), \(cin) input channel(s)")
            }
        }
    }

    /// Output channel counts of 1 to 5 vectors (register groups of 4 vectors and a remainder),
    /// with and without bias.
    func testOutputChannelCounts() throws {
        for cout in [16, 32, 48, 64, 80] {
            for bias in [true, false] {
                var g = GraphBuilder(seed: UInt64(cout))
                let r1 = g.relu(g.conv("x", 3, cout, bias: bias, [ints("pads", [1, 1, 1, 1])]))
                let r2 = g.relu(g.conv(r1, cout, cout, bias: bias, [ints("pads", [1, 1, 1, 1])]))
                let r3 = g.relu(g.conv(r2, cout, 16, kernel: [1, 1], bias: bias))
                try check(g.graph(outputs: [r3]), ["x": randomTensor([2, 3, 5, 6], seed: 4)],
                          blocked: [r1: true, r2: true, r3: false], "\(cout) channels, bias \(bias)")
            }
        }
    }

    /// Output widths that split into row pieces of every size (at most 6, 8 or 12 outputs per
    /// piece, depending on the vectors per group), for 1 to 5 channel vectors.
    func testOutputWidths() throws {
        for width in [1, 5, 7, 13, 14, 28] {
            var g = GraphBuilder(seed: UInt64(width))
            let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
            let r2 = g.relu(g.conv(r1, 16, 80, [ints("pads", [1, 1, 1, 1])]))
            let r3 = g.relu(g.conv(r2, 80, 48, [ints("pads", [1, 1, 1, 1])]))
            let r4 = g.relu(g.conv(r3, 48, 32, kernel: [1, 1]))
            try check(g.graph(outputs: [r4]), ["x": randomTensor([2, 3, 3, width], seed: 5)],
                      blocked: [r1: true, r2: true, r3: true, r4: false], "width \(width)")
        }
    }

    /// A 1-D convolution (rank-3 tensors) stays plain and is still right.
    func testOneDimensionalChainStaysPlain() throws {
        var g = GraphBuilder(seed: 11)
        let r1 = g.relu(g.conv("x", 3, 16, kernel: [3], [ints("pads", [1, 1])]))
        let r2 = g.relu(g.conv(r1, 16, 32, kernel: [3], [ints("strides", [2])]))
        try check(g.graph(inputs: ["x": 3], outputs: [r2]), ["x": randomTensor([2, 3, 20], seed: 6)], blocked: [r1: false, r2: false], "1-D")
    }

    /// Conv → BatchNormalization → Clip(0, 6) chains (fused, constants as initializers), with
    /// and without conv bias, then a Conv → BatchNormalization without activation.
    func testBatchNormClipChains() throws {
        for bias in [true, false] {
            var g = GraphBuilder(seed: bias ? 12 : 13)
            let a1 = g.clip(g.batchNorm(g.conv("x", 3, 32, bias: bias, [ints("pads", [1, 1, 1, 1])]), 32), 0, 6)
            let a2 = g.clip(g.batchNorm(g.conv(a1, 32, 16, bias: bias, [ints("strides", [2, 2])]), 16), 0, 6)
            let n3 = g.batchNorm(g.conv(a2, 16, 16, kernel: [1, 1], bias: bias), 16)
            let a3 = g.relu(g.conv(n3, 16, 16, kernel: [1, 1]))
            try check(g.graph(outputs: [a3]), ["x": randomTensor([2, 3, 9, 9], seed: 7)],
                      blocked: [a1: true, a2: true, n3: true, a3: false], "bias \(bias)")
        }
    }

    // MARK: - Depthwise and grouped

    /// Depthwise 3×3 (16 or 32 channels, stride 1 or 2, pad 1) between blocked convolutions; a
    /// channel multiplier of 2 and a two-group conv fall back to the plain kernels.
    func testDepthwiseAndGroupedConvolutions() throws {
        for channels in [16, 32] {
            for stride: Int64 in [1, 2] {
                var g = GraphBuilder(seed: UInt64(channels) + UInt64(stride))
                let r1 = g.relu(g.conv("x", 3, channels, [ints("pads", [1, 1, 1, 1])]))
                let d = g.relu(g.conv(r1, channels, channels, group: channels, [ints("pads", [1, 1, 1, 1]), ints("strides", [stride, stride])]))
                let r2 = g.relu(g.conv(d, channels, 16, kernel: [1, 1]))
                try check(g.graph(outputs: [r2]), ["x": randomTensor([2, 3, 9, 10], seed: 8)],
                          blocked: [r1: true, d: true, r2: false], "depthwise \(channels) stride \(stride)")
            }
        }
        var g = GraphBuilder(seed: 14)
        let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
        let doubled = g.relu(g.conv(r1, 16, 32, group: 16, [ints("pads", [1, 1, 1, 1])]))
        let grouped = g.relu(g.conv(doubled, 32, 32, group: 2, [ints("pads", [1, 1, 1, 1])]))
        // The conv before the fallbacks writes plain (its reader would convert); from the plain
        // result, the next conv writes blocked again (its reader takes it).
        let r2 = g.relu(g.conv(grouped, 32, 16, kernel: [1, 1]))
        let r3 = g.relu(g.conv(r2, 16, 16, [ints("pads", [1, 1, 1, 1])]))
        try check(g.graph(outputs: [r3]), ["x": randomTensor([2, 3, 7, 8], seed: 9)],
                  blocked: [r1: false, doubled: false, grouped: false, r2: true, r3: false], "multiplier 2, then two groups")
    }

    // MARK: - Pooling

    /// MaxPool and AveragePool on blocked inputs, their outputs blocked.
    func testPoolingAfterBlockedConvolutions() throws {
        let pools: [(String, String, [Attribute])] = [
            ("MaxPool 2×2 s2", "MaxPool", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])]),
            ("MaxPool 3×3 s1 pad 1", "MaxPool", [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])]),
            ("MaxPool 2×2 s2 ceil", "MaxPool", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2]), int("ceil_mode", 1)]),
            ("MaxPool 3×3 s2 ceil pad 1", "MaxPool",
             [ints("kernel_shape", [3, 3]), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1]), int("ceil_mode", 1)]),
            ("MaxPool dilation 2", "MaxPool", [ints("kernel_shape", [2, 2]), ints("dilations", [2, 2]), ints("pads", [1, 0, 1, 1])]),
            ("AveragePool without pad count", "AveragePool",
             [ints("kernel_shape", [3, 3]), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1]), int("count_include_pad", 0)]),
            ("AveragePool with pad count", "AveragePool",
             [ints("kernel_shape", [3, 3]), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1]), int("count_include_pad", 1)]),
            ("AveragePool s1 asymmetric pads with pad count", "AveragePool",
             [ints("kernel_shape", [3, 2]), ints("pads", [0, 1, 2, 0]), int("count_include_pad", 1)]),
            ("AveragePool ceil with pad count", "AveragePool",
             [ints("kernel_shape", [2, 2]), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1]), int("ceil_mode", 1),
              int("count_include_pad", 1)]),
        ]
        for (what, op, attributes) in pools {
            var g = GraphBuilder(seed: 15)
            let r1 = g.relu(g.conv("x", 3, 32, [ints("pads", [1, 1, 1, 1])]))
            let p = g.op(op, [r1], attributes)
            let r2 = g.relu(g.conv(p, 32, 16, [ints("pads", [1, 1, 1, 1])]))
            // The pool's output read by a conv, and as a graph output itself (a pooling keeps its
            // input's layout; the output is converted at the end).
            try check(g.graph(outputs: [r2, p]), ["x": randomTensor([2, 3, 7, 9], seed: 10)],
                      blocked: [r1: true, p: true, r2: false], what)
        }
    }

    /// A MaxPool with an Indices output takes a plain input (indices count plain positions) and
    /// gives plain, right values and indices; the conv before it writes plain for it, from its
    /// blocked input.
    func testMaxPoolWithIndicesStaysPlain() throws {
        var g = GraphBuilder(seed: 16)
        let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
        let r2 = g.relu(g.conv(r1, 16, 16, [ints("pads", [1, 1, 1, 1])]))
        let outs = g.add("MaxPool", [r2], [ints("kernel_shape", [2, 2]), ints("strides", [2, 2]), int("ceil_mode", 1)], outputs: 2)
        let r3 = g.relu(g.conv(outs[0], 16, 16, kernel: [1, 1]))
        // One image: a split batch has indices of its own (see the next test).
        let out = try check(g.graph(outputs: [r3, outs[0], outs[1]]), ["x": randomTensor([1, 3, 7, 7], seed: 11)],
                            blocked: [r1: true, r2: false, outs[0]: false, r3: false], "MaxPool with indices")
        XCTAssertEqual(out[outs[1]]?.elementType, .int64)
        XCTAssertEqual(out[outs[1]]?.shape, [1, 16, 4, 4])
    }

    /// MaxPool's indices count positions in the whole input, so image n's are offset by n·C·H·W
    /// however the batch is split: in passes of at most 16 samples with one thread, or in
    /// slices per thread.
    func testMaxPoolIndicesOfSplitBatchesCountTheWholeBatch() throws {
        var g = GraphBuilder(seed: 26)
        let outs = g.add("MaxPool", ["x"], [ints("kernel_shape", [2, 2])], outputs: 2)
        let graph = g.graph(outputs: outs)
        for (batch, threads) in [(2, 2), (17, 1)] {
            // Image n holds 4n … 4n + 3, its maximum last: index 4n + 3.
            let x = T([batch, 1, 2, 2], (0..<(4 * batch)).map(Float.init))
            let interpreter = try Interpreter(graph: graph, opset: 13, threads: threads)
            XCTAssertEqual(try interpreter.run(inputs: ["x": x])[outs[1]]?.int64s, (0..<batch).map { Int64(4 * $0 + 3) },
                           "batch \(batch), \(threads) thread(s)")
        }
    }

    /// GlobalAveragePool and GlobalMaxPool of a blocked conv output, then Flatten → Gemm.
    func testGlobalPoolingThenGemm() throws {
        for op in ["GlobalAveragePool", "GlobalMaxPool"] {
            var g = GraphBuilder(seed: 17)
            let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
            let r2 = g.relu(g.conv(r1, 16, 48, [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])]))
            let pooled = g.op(op, [r2])
            let flat = g.op("Flatten", [pooled])
            let y = g.op("Gemm", [flat, g.random([10, 48]), g.random([10])], [int("transB", 1)])
            let out = try check(g.graph(outputs: [y, pooled]), ["x": randomTensor([3, 3, 9, 8], seed: 12)],
                                blocked: [r1: true, r2: true, pooled: false], op)
            XCTAssertEqual(out[pooled]?.shape, [3, 48, 1, 1])
            XCTAssertEqual(out[y]?.shape, [3, 10])
        }
    }

    // MARK: - Element-wise operators on blocked tensors

    /// A residual block: conv → relu → conv, plus the first relu, then Relu. Both operands are
    /// blocked, so the Add and the Relu run on the blocked storage.
    func testResidualAddOfBlockedTensors() throws {
        var g = GraphBuilder(seed: 18)
        let r1 = g.relu(g.conv("x", 3, 32, [ints("pads", [1, 1, 1, 1])]))
        let c2 = g.conv(g.relu(g.conv(r1, 32, 32, [ints("pads", [1, 1, 1, 1])])), 32, 32, [ints("pads", [1, 1, 1, 1])])
        let sum = g.op("Add", [c2, r1])
        let y = g.relu(sum)
        try check(g.graph(outputs: [y]), ["x": randomTensor([2, 3, 6, 7], seed: 13)], blocked: [r1: true, sum: true, y: true], "residual")
    }

    /// A blocked operand with a plain one of the same shape: a graph input, or a tensor that went
    /// through Reshape and back. Convolutions write plain for such an Add; a pooling keeps its
    /// blocked input's layout, so the interpreter converts its output. The result is plain.
    func testAddOfBlockedAndPlainOperands() throws {
        var g = GraphBuilder(seed: 19)
        let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
        let c2 = g.conv(r1, 16, 16, [ints("pads", [1, 1, 1, 1])])
        let withInput = g.op("Add", ["skip", c2])
        // A pooling of a blocked input writes blocked whatever its readers: Reshape converts it.
        let skipped = g.op("MaxPool", [r1], [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])])
        let viaPool = g.op("Add", [skipped, "skip"])
        let pooled = g.op("MaxPool", [r1], [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])])
        let flat = g.op("Reshape", [pooled, g.int64s([-1, 16 * 6 * 5])])
        let back = g.op("Reshape", [flat, g.int64s([-1, 16, 6, 5])])
        let c3 = g.conv(r1, 16, 16, kernel: [1, 1])
        let withReshaped = g.op("Sub", [c3, back])
        let y = g.relu(g.op("Add", [g.op("Add", [withInput, withReshaped]), viaPool]))
        try check(g.graph(inputs: ["x": 4, "skip": 4], outputs: [y]),
                  ["x": randomTensor([2, 3, 6, 5], seed: 14), "skip": randomTensor([2, 16, 6, 5], seed: 15)],
                  blocked: [r1: true, c2: false, pooled: true, c3: false, skipped: true, withInput: false, withReshaped: false,
                            viaPool: false, y: false],
                  "blocked and plain operands")
    }

    /// Broadcasting operands: Mul by a [1, C, 1, 1] constant, and a squeeze-and-excitation gate
    /// ([N, C, H, W] × [N, C, 1, 1]). The planner cannot tell a per-channel operand from a full
    /// one, so a conv read by such a Mul beside a plain operand writes plain (r1), and so does the
    /// gate's Conv+Sigmoid, which runs fused. A pooling of a blocked tensor times a constant
    /// [1, C, 1, 1] stays blocked: the per-channel broadcast runs on the blocked storage.
    func testBroadcastingOperandsAreConverted() throws {
        var g = GraphBuilder(seed: 20)
        let r1 = g.relu(g.conv("x", 3, 32, [ints("pads", [1, 1, 1, 1])]))
        let scaled = g.op("Mul", [r1, g.random([1, 32, 1, 1])])
        let squeezed = g.op("GlobalAveragePool", [r1])
        let gate = g.op("Sigmoid", [g.conv(g.relu(g.conv(squeezed, 32, 16, kernel: [1, 1])), 16, 32, kernel: [1, 1])])
        let excited = g.op("Mul", [r1, gate])
        let y = g.relu(g.conv(g.op("Add", [scaled, excited]), 32, 16, kernel: [1, 1]))
        let r2 = g.relu(g.conv("x", 3, 32, [ints("pads", [1, 1, 1, 1])]))
        let pooled = g.op("MaxPool", [r2], [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        let gated = g.op("Mul", [pooled, g.random([1, 32, 1, 1])])
        try check(g.graph(outputs: [y, gated]), ["x": randomTensor([2, 3, 5, 6], seed: 16)],
                  blocked: [r1: false, scaled: false, gate: false, excited: false, y: false, r2: true, pooled: true, gated: true],
                  "broadcasting")
    }

    /// A blocked tensor with a per-channel operand, constant [1, C, 1, 1] or per image [N, C, 1, 1],
    /// on either side of Add, Sub, Mul and Div: the results stay blocked and equal the plain run's.
    func testPerChannelOperandsKeepTheBlockedLayout() throws {
        var g = GraphBuilder(seed: 40)
        let r = g.relu(g.conv("x", 3, 32, [ints("pads", [1, 1, 1, 1])]))
        let p = g.op("MaxPool", [r], [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        let constant = g.random([1, 32, 1, 1])
        let gate = g.op("Sigmoid", [g.op("GlobalAveragePool", [p])])
        let a = g.op("Sub", [constant, p]), b = g.op("Div", [p, gate])
        let c = g.op("Add", [gate, p]), d = g.op("Sub", [p, gate]), e = g.op("Mul", [gate, p])
        try check(g.graph(outputs: [a, b, c, d, e]), ["x": randomTensor([2, 3, 6, 8], seed: 41)],
                  blocked: [p: true, a: true, b: true, c: true, d: true, e: true], "per-channel operands")
    }

    // MARK: - Concat

    /// Inception-like: 1×1, 3×3 and max-pool branches joined along the channels, all blocked.
    func testConcatOfBlockedBranches() throws {
        for axis: Int64 in [1, -3] {
            var g = GraphBuilder(seed: 21)
            let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
            let a = g.relu(g.conv(r1, 16, 16, kernel: [1, 1]))
            let b = g.relu(g.conv(r1, 16, 32, [ints("pads", [1, 1, 1, 1])]))
            let c = g.op("MaxPool", [r1], [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])])
            let joined = g.op("Concat", [a, b, c], [int("axis", axis)])
            let y = g.relu(g.conv(joined, 64, 16, kernel: [1, 1]))
            try check(g.graph(outputs: [y, joined]), ["x": randomTensor([2, 3, 6, 7], seed: 17)],
                      blocked: [a: true, b: true, c: true, joined: true, y: false], "axis \(axis)")
        }
    }

    /// A branch of 8 channels joined to one of 16: the convolutions write plain for the Concat;
    /// and branches joined along H: plain too.
    func testConcatWithPlainBranchOrOtherAxis() throws {
        var g = GraphBuilder(seed: 22)
        let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
        let wide = g.relu(g.conv(r1, 16, 16, kernel: [1, 1]))
        let narrow = g.relu(g.conv(r1, 16, 8, kernel: [1, 1]))
        let mixed = g.op("Concat", [wide, narrow], [int("axis", 1)])
        let y1 = g.relu(g.conv(mixed, 24, 16, kernel: [1, 1]))
        let left = g.relu(g.conv(r1, 16, 16, kernel: [1, 1]))
        let right = g.relu(g.conv(r1, 16, 16, [ints("pads", [1, 1, 1, 1])]))
        let tall = g.op("Concat", [left, right], [int("axis", 2)])
        let y2 = g.relu(g.conv(tall, 16, 16, [ints("strides", [2, 1])]))
        let out = try check(g.graph(outputs: [y1, y2]), ["x": randomTensor([2, 3, 5, 6], seed: 18)],
                            blocked: [r1: true, wide: false, narrow: false, mixed: false, left: false, right: false, tall: false, y2: false],
                            "plain branch, other axis")
        XCTAssertEqual(out[y2]?.shape, [2, 16, 4, 4])
    }

    // MARK: - Graph outputs

    /// Graph outputs come out plain and right: those of convolutions (written plain), including
    /// one also read by another conv, and an Identity of a blocked tensor (converted at the end).
    func testBlockedGraphOutputsArePlain() throws {
        var g = GraphBuilder(seed: 23)
        let r0 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
        let r1 = g.relu(g.conv(r0, 16, 16, [ints("pads", [1, 1, 1, 1])]))
        let r2 = g.relu(g.conv(r1, 16, 32, [ints("pads", [1, 1, 1, 1])]))
        let alias = g.op("Identity", [r2])
        let r3 = g.relu(g.conv(r2, 32, 16, kernel: [1, 1]))
        let graph = g.graph(outputs: [r3, r0, alias])
        let feeds = ["x": randomTensor([2, 3, 5, 4], seed: 19)]
        for threads in [1, 2] {
            let out = try run(graph, feeds, blockedLayout: true, threads: threads)
            for (name, t) in out { XCTAssertFalse(t.blocked, "\(name) is returned plain") }
        }
        try check(graph, feeds, blocked: [r0: false, r1: true, r2: true, alias: true, r3: false], "outputs")
    }

    // MARK: - Observers

    /// Plane statistics counted in the blocked layout: zeros (±0) or the values ≤ 0, non-finite
    /// values and counts exactly as a scan of the plain planes, sums and sums of squares up to
    /// rounding. The blocks with a non-finite value are counted again by the exact path; a square
    /// past Float's range (1e20) sends its block there too without being non-finite.
    func testBlockedPlaneStatisticsAgreeWithThePlainScan() throws {
        for region in [CountedRegion.zeros, .nonPositive] { try assertBlockedPlaneStatisticsAgree(region) }
    }

    /// A long run (a flat 1×1 convolution's "row" is its whole plane) is added in float partial
    /// sums of at most 1024 vectors, as the comment on `LaneCounts` promises; the counts are exact.
    func testLaneCountsMoveLongRunsIntoDoublesEvery1024Vectors() {
        let n = 5000
        var values = [Float](repeating: 0.1, count: n * 16)
        for k in stride(from: 0, to: values.count, by: 7) { values[k] = 0 }
        var counts = BlockedLayout.LaneCounts()
        values.withUnsafeBufferPointer { counts.add($0.baseAddress!, n, apart: 16) }
        XCTAssertEqual(counts.pending, n % 1024)
        var zeros: UInt64 = 0
        for j in 0..<16 {
            let lane = counts.statistics(lane: j, count: UInt64(n))
            let expected = (0..<n).map { Double(values[$0 * 16 + j]) }
            XCTAssertEqual(lane.zeros, UInt64(expected.filter { $0 == 0 }.count), "lane \(j)")
            XCTAssertEqual(lane.sum, expected.reduce(0, +), accuracy: 1e-5 * expected.reduce(0, +), "lane \(j)")
            zeros += lane.zeros
        }
        XCTAssertEqual(zeros, UInt64((values.count + 6) / 7))
    }

    private func assertBlockedPlaneStatisticsAgree(_ region: CountedRegion) throws {
        let ctx = ExecContext(arena: Arena(), threads: 2)
        var values = randomTensor([3, 32, 7, 5], seed: 31).floats.map { $0 < -0.3 ? 0 : $0 }
        for (k, v) in [(3, -Float.zero), (40, .nan), (41, .infinity), (500, -.infinity), (1000, .nan), (2000, 1e20)] { values[k] = v }
        let plain = T([3, 32, 7, 5], values)
        let table = PlaneStatisticsTable()
        table.region = region
        BlockedLayout.planeStatistics(try BlockedLayout.blocked(plain, ctx), into: table.claim(shape: plain.shape), threads: 2)
        XCTAssertEqual(table.planes.count, 3 * 32)
        var zeros: UInt64 = 0
        for p in 0..<(3 * 32) {
            let expected = PlaneStatistics(plain.f + p * 35, count: 35, region: region), got = table.planes[p]
            XCTAssertEqual(got.count, expected.count, "plane \(p)")
            XCTAssertEqual(got.zeros, expected.zeros, "plane \(p)")
            XCTAssertEqual(got.nonFinite, expected.nonFinite, "plane \(p)")
            XCTAssertEqual(got.sum, expected.sum, accuracy: 1e-5 * max(1, abs(expected.sum)), "plane \(p)")
            XCTAssertEqual(got.sumOfSquares, expected.sumOfSquares, accuracy: 1e-5 * max(1, expected.sumOfSquares), "plane \(p)")
            zeros += got.zeros
        }
        XCTAssertGreaterThan(zeros, 100, "the data has zeros to count")
        XCTAssertEqual(table.planes.reduce(0) { $0 + $1.nonFinite }, 4)
    }

    /// The APoZ observer, which reads only the statistics, is handed blocked outputs with their
    /// planes counted in the blocked layout (by the convolution kernels, or after them when one
    /// image runs on two threads): the same zero counts as with the layout off, split batches
    /// included.
    func testApozObserverCountsTheSameWithTheBlockedLayout() throws {
        for batch in [20, 1] { try assertApozCountsTheSame(batch: batch) }
    }

    func assertApozCountsTheSame(batch: Int) throws {
        let (graph, feeds) = mixedNet(batch: batch)
        try assertApozCountsTheSame(graph, feeds, tensors: graph.nodes.filter { ["Relu", "Clip"].contains($0.opType) }.map { $0.outputs[0] })
    }

    func assertApozCountsTheSame(_ graph: Graph, _ feeds: [String: RuntimeTensor], tensors: [String]) throws {
        let points = graph.nodes.filter { tensors.contains($0.outputs[0]) }.map {
            ObservationPoint(tensor: $0.outputs[0], node: $0.displayName, op: $0.opType, producers: [])
        }
        var results: [[TensorStatistics]] = []
        for (blockedLayout, threads) in [(false, 1), (true, 1), (true, 2)] {
            let interpreter = try Interpreter(graph: graph, opset: 13, threads: threads)
            interpreter.blockedLayout = blockedLayout
            let observer = ApozObserver(points: points, threads: threads)
            _ = try interpreter.run(inputs: feeds, observer: observer)
            results.append(try observer.statistics())
        }
        XCTAssertEqual(results[0].count, points.count)
        for other in results.dropFirst() {
            for (s, t) in zip(other, results[0]) {
                XCTAssertEqual(s.tensor, t.tensor)
                XCTAssertEqual(s.zeros, t.zeros, s.tensor)
                XCTAssertEqual(s.positions, t.positions, s.tensor)
                XCTAssertEqual(s.nonFinite, t.nonFinite, s.tensor)
                for c in 0..<s.channels {
                    XCTAssertEqual(s.sums[c], t.sums[c], accuracy: 1e-4 * max(1, abs(t.sums[c])), "\(s.tensor) sums[\(c)]")
                }
            }
        }
        XCTAssertGreaterThan(results[0].reduce(0) { $0 + $1.zeros.reduce(0, +) }, 0, "the Relu outputs have zeros")
    }

    // MARK: - Padded channel blocks

    /// Convolutions whose channel counts are not multiples of 16 (24, 72, 40: MobileNetV3's and
    /// ShuffleNet's) hand each other their outputs blocked, the last block padded; a reader that
    /// is not a convolution (the residual Add) gets its input plain. Every path: an ungrouped conv
    /// from a plain and from a padded input, depthwise at strides 1 and 2 (read unpadded and from
    /// the padded scratch), the 3×3 kernel that sums block by block (72 input channels), a fused
    /// BatchNormalization + Clip; one image on one and two threads, and batches split in slices.
    func paddedNet(batch: Int) -> (Graph, [String: RuntimeTensor], [String]) {
        var g = GraphBuilder(seed: 31)
        let r1 = g.relu(g.conv("x", 3, 24, [ints("pads", [1, 1, 1, 1])]))
        let d2 = g.relu(g.conv(r1, 24, 24, group: 24, [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])]))
        let e3 = g.clip(g.batchNorm(g.conv(d2, 24, 72, kernel: [1, 1]), 72), 0, 6)
        let d4 = g.relu(g.conv(e3, 72, 72, kernel: [5, 5], group: 72, [ints("pads", [2, 2, 2, 2])]))
        let c5 = g.relu(g.conv(d4, 72, 40, [ints("pads", [1, 1, 1, 1])]))
        let d6 = g.conv(c5, 40, 40, group: 40, [ints("pads", [1, 1, 1, 1])])
        let s7 = g.relu(g.op("Add", [d6, c5]))
        let y = g.op("Flatten", [g.op("GlobalAveragePool", [s7])])
        return (g.graph(outputs: [y]), ["x": randomTensor([batch, 3, 12, 10], seed: 23)], [r1, d2, e3, d4, c5, s7])
    }

    func testPaddedBlocksBetweenConvolutions() throws {
        for batch in [1, 3] {
            let (graph, feeds, observed) = paddedNet(batch: batch)
            _ = try check(graph, feeds, "padded blocks, batch \(batch)")
            // Which outputs are blocked, seen by an observer that takes them as they are.
            let layout = LayoutProbe(observed)
            let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
            _ = try interpreter.run(inputs: feeds, observer: layout)
            let (r1, d2, e3, d4, c5, s7) = (observed[0], observed[1], observed[2], observed[3], observed[4], observed[5])
            XCTAssertEqual(layout.blocked, [r1: true, d2: true, e3: true, d4: true, c5: false, s7: false])
            XCTAssertEqual(layout.storedFloats[r1], batch * 32 * 12 * 10, "24 channels stored in 2 blocks")
            XCTAssertEqual(layout.storedFloats[e3], batch * 80 * 6 * 5, "72 channels stored in 5 blocks")
            try assertApozCountsTheSame(graph, feeds, tensors: observed)
        }
    }

    /// Records whether each wanted output comes blocked and how many floats its buffer holds.
    final class LayoutProbe: RuntimeObserver {
        let names: Set<String>
        var blocked: [String: Bool] = [:], storedFloats: [String: Int] = [:]
        init(_ names: [String]) { self.names = Set(names) }
        func wantsOutput(of node: Node, named output: String) -> Bool { names.contains(output) }
        func wantsPlaneStatistics(of node: Node, named output: String) -> Bool { true }
        var readsValuesWithPlaneStatistics: Bool { false }
        func observe(node: Node, output: String, tensor: RuntimeTensor) throws {
            XCTFail("\(output) was not counted")
        }
        func observe(node: Node, output: String, tensor: RuntimeTensor, planes: UnsafeBufferPointer<PlaneStatistics>) throws {
            blocked[output] = tensor.blocked
            storedFloats[output] = tensor.buffer.byteCount / 4
            XCTAssertEqual(planes.count, tensor.shape[0] * tensor.shape[1], output)
        }
    }

    /// An observer of every output sees plain tensors equal to the plain run's; so does one of
    /// the chains' last outputs only (the chains fused). The tensors it keeps stay valid after
    /// the interpreter's next run.
    func testObserversSeePlainTensors() throws {
        let (graph, feeds) = mixedNet(batch: 2)
        let everything: (Node, String) -> Bool = { _, _ in true }
        for (what, wants) in [("every output", everything), ("chain ends", Self.chainEnds)] {
            let plain = Recorder(wants), blocked = Recorder(wants)
            let expected = try run(graph, feeds, blockedLayout: false, threads: 1, observer: plain)
            let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
            assertClose(try interpreter.run(inputs: feeds, observer: blocked), expected, what)
            _ = try interpreter.run(inputs: ["x": randomTensor(feeds["x"]!.shape, seed: 99)])
            XCTAssertEqual(Set(blocked.tensors.keys), Set(plain.tensors.keys), what)
            XCTAssertEqual(plain.tensors.count, what == "every output" ? graph.nodes.count : 7, what)
            for (name, seen) in plain.tensors {
                guard let got = blocked.tensors[name] else { continue }
                XCTAssertEqual(got.count, 1, "\(what) \(name): one call")
                XCTAssertFalse(got.contains(where: \.blocked), "\(what) \(name) is handed over plain")
                XCTAssertEqual(got.map(\.shape), seen.map(\.shape), "\(what) \(name)")
                assertClose(got.flatMap(\.floats), seen.flatMap(\.floats), "\(what) \(name)")
            }
        }
    }

    /// An observer asking for plane statistics gets planes that equal a scan of the tensor it is
    /// handed, exactly, for blocked outputs (counted by the interpreter on a plain copy) and plain
    /// ones (counted by their kernels) alike.
    func testPlaneStatisticsEqualAScanOfTheHandedTensor() throws {
        let (graph, feeds) = mixedNet(batch: 3)
        let wantings: [(String, (Node, String) -> Bool)] = [("every output", { _, _ in true }), ("chain ends", Self.chainEnds)]
        for (wanted, wants) in wantings {
            for blockedLayout in [true, false] {
                for threads in [1, 2] {
                    let what = "\(wanted), blocked \(blockedLayout), \(threads) thread(s)"
                    let recorder = Recorder(wants, statistics: true)
                    _ = try run(graph, feeds, blockedLayout: blockedLayout, threads: threads, observer: recorder)
                    XCTAssertEqual(recorder.planeMismatches, [], what)
                    // Every Relu, Clip and Conv output ([N, C, H, W]) is counted, by its kernel or the interpreter.
                    let counted = graph.nodes.filter { ["Relu", "Clip", "Conv"].contains($0.opType) }.map(\.outputs[0])
                    XCTAssertTrue(Set(counted).intersection(recorder.tensors.keys).isSubset(of: recorder.viaPlanes), what)
                    XCTAssertGreaterThanOrEqual(recorder.viaPlanes.count, 4, what)
                    if blockedLayout && wanted == "chain ends" {
                        // Blocked outputs of operators that never count: the interpreter counts them.
                        for node in graph.nodes where ["MaxPool", "Add", "Concat"].contains(node.opType) {
                            XCTAssertTrue(recorder.viaPlanes.contains(node.outputs[0]), "\(what): \(node.opType) output counted")
                        }
                    }
                }
            }
        }
    }

    // MARK: - Batches

    /// Batches of 1 to 40 samples, in passes of at most `Interpreter.chunkSamples` with one or
    /// two threads: every output equals the single-sample runs image by image, and an observer
    /// sees each output's slices in batch order.
    func testBatchesEqualSingleImageRuns() throws {
        let (graph, feeds) = mixedNet(batch: 40)
        let x = feeds["x"]!
        let image = x.count / 40
        // Single-image references: outputs and observed values, image by image.
        let single = try Interpreter(graph: graph, opset: 13, threads: 1)
        single.blockedLayout = false
        var expected: [String: [Float]] = [:], observed: [String: [Float]] = [:]
        for n in 0..<40 {
            let recorder = Recorder { _, _ in true }
            let one = T([1] + x.shape.dropFirst(), Array(x.floats[(n * image)..<((n + 1) * image)]))
            for (name, t) in try single.run(inputs: ["x": one], observer: recorder) { expected[name, default: []] += t.floats }
            for (name, list) in recorder.tensors { observed[name, default: []] += list.flatMap(\.floats) }
        }
        for threads in [1, 2] {
            let interpreter = try Interpreter(graph: graph, opset: 13, threads: threads)
            XCTAssertTrue(interpreter.splitsBatches)
            for batch in [1, 2, 17, 33, 40] {
                let what = "batch \(batch), \(threads) thread(s)"
                let input = T([batch] + x.shape.dropFirst(), Array(x.floats[..<(batch * image)]))
                let out = try interpreter.run(inputs: ["x": input])
                for (name, t) in out {
                    XCTAssertEqual(t.shape[0], batch, "\(what) \(name)")
                    let values = expected[name]!
                    assertClose(t.floats, Array(values[..<(values.count / 40 * batch)]), "\(what) \(name)")
                }
                let recorder = Recorder { _, _ in true }
                let watched = try interpreter.run(inputs: ["x": input], observer: recorder)
                assertClose(watched, out, "\(what), observed")
                XCTAssertEqual(Set(recorder.tensors.keys), Set(observed.keys), what)
                for (name, slices) in recorder.tensors {
                    let sizes = slices.map { $0.shape[0] }
                    XCTAssertEqual(sizes.reduce(0, +), batch, "\(what) \(name): every sample once")
                    XCTAssertTrue(sizes.allSatisfy { $0 <= Interpreter.chunkSamples }, "\(what) \(name): passes of \(sizes)")
                    if batch >= 2 && (threads > 1 || batch > Interpreter.chunkSamples) {
                        XCTAssertGreaterThanOrEqual(sizes.count, max(threads, 2), "\(what) \(name): sliced")
                    }
                    let values = observed[name]!
                    // Slices in batch order: their concatenation is the batch's values in order.
                    assertClose(slices.flatMap(\.floats), Array(values[..<(values.count / 40 * batch)]), "\(what) \(name)")
                }
            }
        }
    }

    /// Conversions the interpreter makes for readers that take plain inputs (an Add with a plain
    /// operand, Flatten, both reading a pooling of a blocked tensor) give their buffers back:
    /// repeated runs do not grow the arena.
    func testInterpreterConversionsDoNotGrowTheArena() throws {
        var g = GraphBuilder(seed: 24)
        let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
        let r2 = g.relu(g.conv(r1, 16, 16, [ints("pads", [1, 1, 1, 1])]))
        let pooled = g.add("MaxPool", [r2], [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])], outputs: 2)[0]
        let c = g.op("MaxPool", [r1], [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])])
        let sum = g.op("Add", [c, "skip"])
        let mixed = g.op("Concat", [sum, pooled], [int("axis", 1)])
        let y = g.relu(g.conv(mixed, 32, 8, kernel: [1, 1]))
        let r3 = g.op("MaxPool", [r1], [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        let logits = g.op("Gemm", [g.op("Flatten", [r3]), g.random([4, 144])], [int("transB", 1)])
        let graph = g.graph(inputs: ["x": 4, "skip": 4], outputs: [y, logits])
        let feeds = ["x": randomTensor([2, 3, 6, 6], seed: 20), "skip": randomTensor([2, 16, 6, 6], seed: 21)]
        try check(graph, feeds, blocked: [r1: true, r2: false, pooled: false, c: true, sum: false, mixed: false, r3: true],
                  "interpreter conversions")
        try assertArenaSteady(graph, feeds)
    }

    /// A blocked graph output, converted to plain at the end of the run, gives its blocked buffer back.
    func testBlockedGraphOutputDoesNotGrowTheArena() throws {
        var g = GraphBuilder(seed: 27)
        let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
        let y = g.op("MaxPool", [r1], [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        let graph = g.graph(outputs: [y])
        let feeds = ["x": randomTensor([2, 3, 6, 6], seed: 22)]
        try check(graph, feeds, blocked: [r1: true, y: true], "blocked output")
        try assertArenaSteady(graph, feeds)
    }

    /// A conv that cannot take its blocked input (two groups, a channel multiplier of 2) converts
    /// it itself (the input comes from a pooling, which keeps the blocked layout); that copy goes
    /// back to the arena too. With 20 output channels the blocked kernel writes plain planes.
    func testFallbackConvolutionsDoNotGrowTheArena() throws {
        let fallbacks: [(String, Int, Int)] = [("two groups", 16, 2), ("multiplier 2", 32, 16), ("20 channels", 20, 1)]
        for (what, cout, group) in fallbacks {
            var g = GraphBuilder(seed: 28)
            let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
            let p = g.op("MaxPool", [r1], [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])])
            let fallback = g.relu(g.conv(p, 16, cout, group: group, [ints("pads", [1, 1, 1, 1])]))
            let y = g.relu(g.conv(fallback, cout, 8, kernel: [1, 1]))
            let graph = g.graph(outputs: [y])
            let feeds = ["x": randomTensor([2, 3, 6, 6], seed: 23)]
            try check(graph, feeds, blocked: [r1: true, p: true, fallback: false], what)
            try assertArenaSteady(graph, feeds, what)
        }
    }

    /// Weights computed at run time (here scaled by an input) are packed afresh for each run,
    /// with the layout on and off.
    func testWeightsComputedAtRunTime() throws {
        var g = GraphBuilder(seed: 29)
        let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
        let w = g.op("Mul", [g.random([16, 16, 3, 3], scale: 0.25), "s"])
        let r2 = g.relu(g.op("Conv", [r1, w], [ints("pads", [1, 1, 1, 1])]))
        let y = g.relu(g.conv(r2, 16, 16, kernel: [1, 1]))
        let graph = g.graph(inputs: ["x": 4, "s": 1], outputs: [y])
        let x = randomTensor([1, 3, 5, 5], seed: 24)
        for blockedLayout in [true, false] {
            let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
            interpreter.blockedLayout = blockedLayout
            for scale: Float in [1, 2, 1, -1] {
                let feeds = ["x": x, "s": T([1], [scale])]
                assertClose(try interpreter.run(inputs: feeds), try run(graph, feeds, blockedLayout: false, threads: 1),
                            "blocked \(blockedLayout), scale \(scale)")
            }
        }
    }

    /// The switch works between runs of one interpreter (the plain and blocked weight packings
    /// are kept apart).
    func testSwitchingTheLayoutBetweenRuns() throws {
        let (graph, feeds) = mixedNet(batch: 2)
        let expected = try run(graph, feeds, blockedLayout: false, threads: 1)
        let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
        for blockedLayout in [true, false, true, false] {
            interpreter.blockedLayout = blockedLayout
            assertClose(try interpreter.run(inputs: feeds), expected, "blocked \(blockedLayout)")
        }
    }

    // MARK: - Helpers

    /// A net with every blocked operator: a fused Conv → Relu, MaxPool, a fused
    /// Conv → BatchNormalization → Clip, depthwise Conv, a residual Add, Concat, then
    /// GlobalAveragePool → Flatten → Gemm. Outputs: the logits and the residual's Relu (blocked).
    func mixedNet(batch: Int) -> (Graph, [String: RuntimeTensor]) {
        var g = GraphBuilder(seed: 25)
        let r1 = g.relu(g.conv("x", 3, 16, [ints("pads", [1, 1, 1, 1])]))
        let p1 = g.op("MaxPool", [r1], [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        let a2 = g.clip(g.batchNorm(g.conv(p1, 16, 32, [ints("pads", [1, 1, 1, 1])]), 32), 0, 6)
        let d3 = g.relu(g.conv(a2, 32, 32, group: 32, [ints("pads", [1, 1, 1, 1])]))
        let r4 = g.relu(g.op("Add", [g.conv(d3, 32, 16, kernel: [1, 1]), p1]))
        let joined = g.op("Concat", [r4, a2], [int("axis", 1)])
        let flat = g.op("Flatten", [g.op("GlobalAveragePool", [joined])])
        let y = g.op("Gemm", [flat, g.random([10, 48]), g.random([10])], [int("transB", 1)])
        return (g.graph(outputs: [y, r4]), ["x": randomTensor([batch, 3, 8, 8], seed: 22)])
    }

    /// Wants the last output of each chain in `mixedNet` (so that the chains run fused).
    static let chainEnds: (Node, String) -> Bool = { node, _ in ["Relu", "Clip", "MaxPool", "Add", "Concat"].contains(node.opType) }

    /// Repeated runs of `graph` with one thread (the whole batch on the interpreter's arena), with
    /// the blocked layout and without, allocate nothing after the first two.
    func assertArenaSteady(_ graph: Graph, _ feeds: [String: RuntimeTensor], _ what: String = "",
                           file: StaticString = #filePath, line: UInt = #line) throws {
        for blockedLayout in [false, true] {
            let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
            interpreter.blockedLayout = blockedLayout
            for _ in 0..<2 { _ = try interpreter.run(inputs: feeds) }
            let (bytes, buffers) = (interpreter.arena.allocatedBytes, interpreter.arena.allocatedBuffers)
            for _ in 0..<3 { _ = try interpreter.run(inputs: feeds) }
            XCTAssertEqual(interpreter.arena.allocatedBuffers, buffers, "\(what) blocked \(blockedLayout): buffers", file: file, line: line)
            XCTAssertEqual(interpreter.arena.allocatedBytes, bytes, "\(what) blocked \(blockedLayout): bytes", file: file, line: line)
        }
    }

    /// Runs `graph` (opset 13) once on a new interpreter.
    func run(_ graph: Graph, _ feeds: [String: RuntimeTensor], blockedLayout: Bool, threads: Int,
             observer: (any RuntimeObserver)? = nil) throws -> [String: RuntimeTensor] {
        let interpreter = try Interpreter(graph: graph, opset: 13, threads: threads)
        interpreter.blockedLayout = blockedLayout
        return try interpreter.run(inputs: feeds, observer: observer)
    }

    /// Runs `graph` with the blocked layout (1 and 2 threads) and checks its outputs against the
    /// plain run's, which it returns. `blocked` names tensors (not inside a fusable chain) and
    /// whether each must be blocked: an Identity probe is added to each, and an observer wants the
    /// probes' plane statistics. The interpreter counts the planes of every blocked output it
    /// hands over, while Identity never counts a plain one, so the probe arrives with planes
    /// exactly when its input was blocked. The probes stay plain with the layout off.
    @discardableResult
    func check(_ graph: Graph, _ feeds: [String: RuntimeTensor], blocked: [String: Bool] = [:], _ what: String,
               file: StaticString = #filePath, line: UInt = #line) throws -> [String: RuntimeTensor] {
        let expected = try run(graph, feeds, blockedLayout: false, threads: 1)
        for threads in [1, 2] {
            let out = try run(graph, feeds, blockedLayout: true, threads: threads)
            assertClose(out, expected, "\(what), \(threads) thread(s)", file: file, line: line)
        }
        guard !blocked.isEmpty else { return expected }
        var probed = graph
        for name in blocked.keys {
            probed.nodes.append(Node(name: "probe \(name)", opType: "Identity", inputs: [name], outputs: [Probe.prefix + name]))
        }
        for blockedLayout in [true, false] {
            let probe = Probe()
            let out = try run(probed, feeds, blockedLayout: blockedLayout, threads: 1, observer: probe)
            assertClose(out, expected, "\(what), probed", file: file, line: line)
            for (name, expectBlocked) in blocked.sorted(by: { $0.key < $1.key }) {
                XCTAssertEqual(probe.blocked[name], blockedLayout && expectBlocked,
                               "\(what): \(name) blocked (layout \(blockedLayout ? "on" : "off"))", file: file, line: line)
            }
        }
        return expected
    }

    /// Records how each probe's output was delivered: with planes (blocked input) or not.
    final class Probe: RuntimeObserver {
        static let prefix = "probe:"
        var blocked: [String: Bool] = [:]
        func wantsOutput(of node: Node, named output: String) -> Bool { output.hasPrefix(Self.prefix) }
        func wantsPlaneStatistics(of node: Node, named output: String) -> Bool { true }
        func observe(node: Node, output: String, tensor: RuntimeTensor) throws {
            blocked[String(output.dropFirst(Self.prefix.count))] = false
        }
        func observe(node: Node, output: String, tensor: RuntimeTensor, planes: UnsafeBufferPointer<PlaneStatistics>) throws {
            XCTAssertFalse(tensor.blocked)
            blocked[String(output.dropFirst(Self.prefix.count))] = true
        }
    }

    /// Keeps every wanted output it is handed (each call, in order), and with `statistics` checks
    /// the planes against a scan of the tensor.
    final class Recorder: RuntimeObserver {
        let wants: (Node, String) -> Bool
        let statistics: Bool
        var tensors: [String: [RuntimeTensor]] = [:]
        var viaPlanes: Set<String> = []
        var planeMismatches: [String] = []
        init(_ wants: @escaping (Node, String) -> Bool, statistics: Bool = false) {
            self.wants = wants
            self.statistics = statistics
        }
        func wantsOutput(of node: Node, named output: String) -> Bool { wants(node, output) }
        func wantsPlaneStatistics(of node: Node, named output: String) -> Bool { statistics }
        func observe(node: Node, output: String, tensor: RuntimeTensor) throws { tensors[output, default: []].append(tensor) }
        func observe(node: Node, output: String, tensor: RuntimeTensor, planes: UnsafeBufferPointer<PlaneStatistics>) throws {
            viaPlanes.insert(output)
            tensors[output, default: []].append(tensor)
            let count = tensor.shape[0] * tensor.shape[1], size = tensor.count / max(1, count)
            guard planes.count == count else { return planeMismatches.append("\(output): \(planes.count) planes, \(count) expected") }
            tensor.withFloats { values in
                for p in 0..<count where PlaneStatistics(values.baseAddress! + p * size, count: size) != planes[p] {
                    planeMismatches.append("\(output) plane \(p)")
                }
            }
        }
    }

    func assertClose(_ got: [String: RuntimeTensor], _ expected: [String: RuntimeTensor], _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(got.keys), Set(expected.keys), what, file: file, line: line)
        for (name, e) in expected {
            guard let t = got[name] else { continue }
            XCTAssertFalse(t.blocked, "\(what) \(name) returned blocked", file: file, line: line)
            XCTAssertEqual(t.shape, e.shape, "\(what) \(name)", file: file, line: line)
            XCTAssertEqual(t.elementType, e.elementType, "\(what) \(name)", file: file, line: line)
            if t.shape == e.shape { assertClose(t.floats, e.floats, "\(what) \(name)", file: file, line: line) }
        }
    }

    /// |a − b| ≤ 1e-5 · max(1, |b|) element by element.
    func assertClose(_ got: [Float], _ expected: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, "\(what): count", file: file, line: line)
        for (k, (a, b)) in zip(got, expected).enumerated() where !(abs(a - b) <= 1e-5 * max(1, abs(b))) {
            return XCTFail("\(what): element \(k) is \(a), expected \(b)", file: file, line: line)
        }
    }
}

/// SplitMix64: reproducible test data.
fileprivate struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A value uniform in [-scale, scale).
    mutating func uniform(_ scale: Float = 1) -> Float { Float.random(in: -scale..<scale, using: &self) }
}

/// A float32 tensor of values uniform in [-1, 1).
fileprivate func randomTensor(_ shape: [Int], seed: UInt64) -> RuntimeTensor {
    var rng = SplitMix64(seed)
    return T(shape, (0..<shape.reduce(1, *)).map { _ in rng.uniform() })
}

/// Builds a graph node by node with generated value names and seeded random initializers.
fileprivate struct GraphBuilder {
    private(set) var nodes: [Node] = []
    private(set) var initializers: [Tensor] = []
    private var rng: SplitMix64
    private var counter = 0

    init(seed: UInt64) { rng = SplitMix64(seed) }

    private mutating func fresh(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)\(counter)"
    }

    /// A constant of values uniform in [-scale, scale).
    mutating func random(_ dims: [Int], scale: Float = 1) -> String {
        constant(dims, (0..<dims.reduce(1, *)).map { _ in rng.uniform(scale) })
    }

    mutating func constant(_ dims: [Int], _ values: [Float]) -> String {
        let name = fresh("k")
        initializers.append(Tensor(name: name, floats: values, dims: dims))
        return name
    }

    mutating func int64s(_ values: [Int64]) -> String {
        let name = fresh("k")
        initializers.append(Tensor(name: name, int64s: values, dims: [values.count]))
        return name
    }

    /// Adds a node; returns the names of its outputs.
    @discardableResult
    mutating func add(_ op: String, _ inputs: [String], _ attributes: [Attribute] = [], outputs: Int = 1) -> [String] {
        let names = (0..<outputs).map { _ in fresh(op.prefix(4).lowercased()) }
        nodes.append(Node(name: names[0], opType: op, inputs: inputs, outputs: names, attributes: attributes))
        return names
    }

    mutating func op(_ op: String, _ inputs: [String], _ attributes: [Attribute] = []) -> String { add(op, inputs, attributes)[0] }

    /// A Conv with weights scaled to keep activations near 1 (variance 1 / fan-in).
    mutating func conv(_ x: String, _ cin: Int, _ cout: Int, kernel: [Int] = [3, 3], group: Int = 1, bias: Bool = true,
                       _ attributes: [Attribute] = []) -> String {
        let fanIn = cin / group * kernel.reduce(1, *)
        let w = random([cout, cin / group] + kernel, scale: (3 / Float(fanIn)).squareRoot())
        let inputs = bias ? [x, w, random([cout], scale: 0.5)] : [x, w]
        return op("Conv", inputs, [ints("kernel_shape", kernel.map(Int64.init)), int("group", Int64(group))] + attributes)
    }

    mutating func relu(_ x: String) -> String { op("Relu", [x]) }

    /// Inference BatchNormalization with constant parameters.
    mutating func batchNorm(_ x: String, _ channels: Int) -> String {
        let scale = random([channels], scale: 1), bias = random([channels], scale: 0.5), mean = random([channels], scale: 0.5)
        let variance = constant([channels], (0..<channels).map { _ in 0.5 + abs(rng.uniform()) })
        return op("BatchNormalization", [x, scale, bias, mean, variance])
    }

    /// Clip (opset 11+) with constant bounds.
    mutating func clip(_ x: String, _ low: Float, _ high: Float) -> String {
        op("Clip", [x, constant([], [low]), constant([], [high])])
    }

    /// The graph with inputs of the given ranks, every dimension free (so that batches split).
    func graph(inputs: [String: Int] = ["x": 4], outputs: [String]) -> Graph {
        let declared = inputs.sorted { $0.key < $1.key }.map { name, rank in
            ValueInfo(name: name, tensor: TensorType(.float, Shape((0..<rank).map { Dim.symbol("\(name)\($0)") })))
        }
        return Graph(name: "blocked", nodes: nodes, inputs: declared, outputs: outputs.map { ValueInfo(name: $0) },
                     initializers: initializers)
    }
}
