import XCTest
import ModelIR
@testable import ModelRuntime

final class ConvolutionTests: XCTestCase {
    let ones2x2 = T([1, 1, 2, 2], [1, 1, 1, 1])

    func testPlainConv() throws {
        assertTensor(try run1("Conv", [iota([1, 1, 3, 3]), ones2x2]), [1, 1, 2, 2], [12, 16, 24, 28])
    }

    func testPaddingAndStride() throws {
        let y = try run1("Conv", [iota([1, 1, 3, 3]), ones2x2], [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])])
        assertTensor(y, [1, 1, 2, 2], [1, 5, 11, 28])
    }

    func testDilation() throws {
        assertTensor(try run1("Conv", [iota([1, 1, 3, 3]), ones2x2], [ints("dilations", [2, 2])]), [1, 1, 1, 1], [20])
    }

    func testBiasAndPointwiseGroups() throws {
        // 1×1 kernels, two groups of two channels: the plain-GEMM path.
        let w = T([2, 2, 1, 1], [1, 1, 1, -1])
        let y = try run1("Conv", [iota([1, 4, 1, 1]), w, T([2], [10, 20])], [int("group", 2)])
        assertTensor(y, [1, 2, 1, 1], [13, 19])
    }

    func testGroupedIm2col() throws {
        let w = T([2, 2, 1, 2], [1, 1, 1, 1, 1, 0, 0, 1])
        assertTensor(try run1("Conv", [iota([1, 4, 1, 2]), w], [int("group", 2)]), [1, 2, 1, 1], [10, 13])
    }

    func testDepthwiseWithPaddingAndStride() throws {
        let x = T([1, 2, 3, 3], (1...9).map(Float.init) + [Float](repeating: 1, count: 9))
        let w = T([2, 1, 3, 3], [Float](repeating: 1, count: 18))
        let attrs = [int("group", 2), ints("pads", [1, 1, 1, 1])]
        assertTensor(try run1("Conv", [x, w], attrs), [1, 2, 3, 3],
                     [12, 21, 16, 27, 45, 33, 24, 39, 28, 4, 6, 4, 6, 9, 6, 4, 6, 4])
        assertTensor(try run1("Conv", [x, w, T([2], [0, 100])], attrs + [ints("strides", [2, 2])]), [1, 2, 2, 2],
                     [12, 16, 24, 28, 104, 104, 104, 104])
    }

    func testDepthwiseMatchesIm2col() throws {
        // The same depthwise conv computed per channel through the general path.
        let x = T([1, 2, 4, 5], (0..<40).map { Float(($0 * 7) % 11) - 5 })
        let w = T([2, 1, 3, 2], (0..<12).map { Float($0 % 5) - 2 })
        let attrs = [int("group", 2), ints("pads", [1, 0, 2, 1]), ints("strides", [1, 2]), ints("dilations", [1, 2])]
        let y = try run1("Conv", [x, w], attrs)
        for c in 0..<2 {
            let xc = T([1, 1, 4, 5], Array(x.floats[(c * 20)..<(c * 20 + 20)]))
            let wc = T([1, 1, 3, 2], Array(w.floats[(c * 6)..<(c * 6 + 6)]))
            let yc = try run1("Conv", [xc, wc], Array(attrs.dropFirst()))
            let n = yc.count
            XCTAssertEqual(Array(y.floats[(c * n)..<(c * n + n)]), yc.floats)
        }
    }

    func testIm2colInBandsMatchesWholeImage() throws {
        let x: [Float] = (0..<252).map { (i: Int) -> Float in Float((i * 5) % 13) - 6 }
        let w: [Float] = (0..<108).map { (i: Int) -> Float in Float((i * 3) % 7) - 3 }
        var params = try WindowAttributes.forKernels(Node(opType: "Conv", inputs: [], outputs: [], attributes: [ints("pads", [1, 0, 1, 2])]))
        params.strides = [1, 2]
        let g = try WindowGeometry(spatial: [7, 6], kernel: [3, 3], params)
        func conv(budget: Int) -> [Float] {
            let layout = ConvLayout(batch: 2, inChannels: 3, outChannels: 4, groups: 1, geometry: g, scratchBudget: budget)
            var y = [Float](repeating: .nan, count: 2 * 4 * g.outputVolume)
            var scratch = [Float](repeating: 0, count: layout.scratchCount(threads: 2))
            convolution(x, w, ConvEpilogue(), &y, layout, scratch: &scratch, threads: 2)
            return y
        }
        let whole = conv(budget: 1 << 22), banded = conv(budget: 1)
        XCTAssertFalse(whole.contains { $0.isNaN })
        XCTAssertEqual(whole, banded)
    }

    /// The direct kernel's blocks cover every grid position, stay inside the grid, hold at most
    /// the tile's vectors (6 with AVX-512's tiles, 1 with AVX2's) and differ in size by at most one.
    func testDirectBlocksCoverTheGrid() {
        for most in [Tiles.wide.gridVectors, Tiles.narrow.gridVectors, 4] { for grid in 1...400 {
            let blocks = DirectConvolution.blocks(grid: grid, most: most)
            guard grid >= 16 else { XCTAssertEqual(blocks.map(\.count), [1]); continue }
            var covered = [Bool](repeating: false, count: grid)
            for (p, n) in blocks {
                XCTAssertTrue(p >= 0 && p + 16 * n <= grid && n >= 1 && n <= most, "grid \(grid), at most \(most)")
                for k in p..<(p + 16 * n) { covered[k] = true }
            }
            XCTAssertTrue(covered.allSatisfy { $0 }, "grid \(grid)")
            let sizes = blocks.map(\.count)
            XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "grid \(grid)")
        } }
    }

    /// The direct kernel keeps its packed weights between runs while W is the same tensor; W fed
    /// at run time is a new tensor each run, whose own values are used.
    func testPackedWeightsFollowTheWeights() throws {
        let node = Node(name: "n", opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: [ints("pads", [1, 1, 1, 1])])
        let graph = Graph(nodes: [node], inputs: [ValueInfo(name: "x"), ValueInfo(name: "w")], outputs: [ValueInfo(name: "y")])
        let interpreter = try Interpreter(graph: graph, opset: 17, threads: 1)
        let x = T([1, 2, 5, 6], (0..<60).map { Float(($0 * 7) % 11) - 5 })
        let params = try WindowAttributes.forKernels(node)
        let g = try WindowGeometry(spatial: [5, 6], kernel: [3, 3], params)
        for round in 0..<3 {
            let w = T([4, 2, 3, 3], (0..<72).map { Float(($0 * (round + 2)) % 7) - 3 })
            for _ in 0..<2 {
                let y = try interpreter.run(inputs: ["x": x, "w": w])["y"]!
                assertTensor(y, [1, 4, 5, 6], directConv(x.floats, [1, 2, 5, 6], w.floats, [4, 2, 3, 3], [0, 0, 0, 0], g, groups: 1))
            }
        }
    }

    func testConv1DSameUpper() throws {
        let y = try run1("Conv", [iota([1, 1, 5]), T([1, 1, 3], [1, 0, -1])], [string("auto_pad", "SAME_UPPER")])
        assertTensor(y, [1, 1, 5], [-2, -2, -2, -2, 4])
    }

    func testConv3D() throws {
        assertTensor(try run1("Conv", [iota([1, 1, 2, 2, 2]), T([1, 1, 2, 2, 2], [Float](repeating: 1, count: 8))]),
                     [1, 1, 1, 1, 1], [36])
    }

    func testConvTranspose() throws {
        let x = iota([1, 1, 2, 2])
        assertTensor(try run1("ConvTranspose", [x, ones2x2]), [1, 1, 3, 3], [1, 3, 2, 4, 10, 6, 3, 7, 4])
        assertTensor(try run1("ConvTranspose", [x, ones2x2], [ints("strides", [2, 2])]), [1, 1, 4, 4],
                     [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        assertTensor(try run1("ConvTranspose", [x, ones2x2], [ints("pads", [1, 1, 1, 1])]), [1, 1, 1, 1], [10])
        let padded = try run1("ConvTranspose", [x, ones2x2, T([1], [0.5])],
                              [ints("strides", [2, 2]), ints("output_padding", [1, 1])])
        XCTAssertEqual(padded.shape, [1, 1, 5, 5])
        XCTAssertEqual(Array(padded.floats.suffix(5)), [0.5, 0.5, 0.5, 0.5, 0.5])
        let shaped = try run1("ConvTranspose", [x, ones2x2], [ints("strides", [2, 2]), ints("output_shape", [4, 4])])
        XCTAssertEqual(shaped.shape, [1, 1, 4, 4])
    }

    func testConvTransposeGroups() throws {
        // Two groups, one channel each: each output channel sees only its own input channel.
        let x = T([1, 2, 1, 1], [1, 2])
        let w = T([2, 1, 1, 2], [1, 2, 3, 4])
        assertTensor(try run1("ConvTranspose", [x, w], [int("group", 2)]), [1, 2, 1, 2], [1, 2, 6, 8])
    }

    func testBadWeightsNameTheNode() throws {
        XCTAssertThrowsError(try run1("Conv", [iota([1, 3, 3, 3]), ones2x2])) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("node 'n' (Conv)"), message)
            XCTAssertFalse(message.contains("\n"))
        }
    }

    /// The fast paths (shifted-plane im2col, phase-split depthwise, images in parallel, the
    /// bias epilogue) against a direct sum over each window written here.
    func testConvPathsMatchDirectSums() throws {
        let cases: [(x: [Int], w: [Int], attrs: [Attribute])] = [
            ([3, 2, 7, 9], [4, 2, 3, 3], [ints("pads", [1, 1, 1, 1])]),
            ([2, 3, 6, 5], [2, 3, 3, 2], [ints("pads", [2, 0, 0, 1]), ints("dilations", [2, 1])]),
            ([3, 4, 9, 8], [4, 1, 3, 3], [int("group", 4), ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])]),
            ([2, 2, 8, 7], [4, 1, 3, 3], [int("group", 2), ints("pads", [1, 2, 1, 0]), ints("dilations", [2, 1])]),
            ([2, 3, 11], [3, 1, 3], [int("group", 3), ints("pads", [1, 1]), ints("strides", [3])]),
            ([2, 3, 5, 37], [3, 1, 3, 3], [int("group", 3), ints("pads", [1, 2, 1, 2]), ints("strides", [2, 2])]),
            ([2, 3, 5, 37], [3, 1, 3, 3], [int("group", 3), ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])]),
            ([2, 3, 6, 28], [3, 1, 3, 3], [int("group", 3), ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])]),
            ([2, 3, 6, 27], [3, 1, 3, 3], [int("group", 3), ints("pads", [0, 2, 0, 2]), ints("strides", [2, 2])]),
            ([2, 2, 5, 37], [3, 2, 3, 3], [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])]),
            ([3, 2, 6, 40], [3, 2, 1, 1], [ints("strides", [2, 2])]),
            // The direct kernel: X read in place (1×1), Y written in place, a partial last
            // vector, channels that do not fill a block of 4, grids under one vector, groups.
            ([2, 5, 6, 7], [8, 5, 1, 1], []),
            ([2, 5, 6, 7], [6, 5, 1, 1], []),
            ([2, 4, 3, 3], [8, 2, 1, 1], [int("group", 2)]),
            ([2, 4, 3, 3], [5, 4, 3, 3], [ints("pads", [1, 1, 1, 1])]),
            ([2, 6, 9, 11], [12, 3, 3, 3], [int("group", 2), ints("pads", [1, 1, 1, 1])]),
            ([1, 17, 8, 8], [20, 17, 3, 3], [ints("pads", [1, 1, 1, 1]), ints("strides", [2, 2])]),
            ([2, 3, 5, 16], [8, 3, 3, 1], [ints("pads", [1, 0, 1, 0])]),
            ([2, 3, 9, 70], [4, 3, 5, 5], [ints("pads", [2, 2, 2, 2])]),
            ([2, 3, 40], [8, 3, 5], [ints("pads", [2, 2]), ints("dilations", [2])]),
            // Unit-stride rows sharing their zero columns, and pads too wide for that.
            ([2, 3, 4, 18], [4, 3, 2, 2], [ints("pads", [0, 3, 1, 0])]),
            ([2, 3, 4, 18], [4, 3, 2, 2], [ints("pads", [1, 3, 0, 3])]),
            ([2, 4, 4, 18], [4, 1, 3, 2], [int("group", 4), ints("pads", [1, 3, 0, 3])]),
            ([2, 4, 4, 18], [4, 1, 3, 3], [int("group", 4), ints("pads", [0, 1, 2, 2])]),
            // Grouped on small maps: the direct kernel's vectors run along 2, 3 (a group of 2 and
            // one of 1) and 4 vectors of output channels.
            ([2, 4, 7, 7], [64, 2, 3, 3], [int("group", 2), ints("pads", [1, 1, 1, 1])]),
            ([1, 6, 5, 9], [96, 3, 3, 3], [int("group", 2), ints("pads", [1, 1, 1, 1])]),
            ([1, 4, 6, 13], [128, 2, 3, 3], [int("group", 2), ints("pads", [0, 1, 1, 1])]),
        ]
        for (xs, ws, attrs) in cases {
            let x = T(xs, (0..<xs.reduce(1, *)).map { Float(($0 * 7) % 13) - 6 })
            let w = T(ws, (0..<ws.reduce(1, *)).map { Float(($0 * 5) % 9) - 4 })
            let b = T([ws[0]], (0..<ws[0]).map { Float($0) - 1.5 })
            let params = try WindowAttributes.forKernels(Node(opType: "Conv", inputs: [], outputs: [], attributes: attrs))
            let g = try WindowGeometry(spatial: Array(xs[2...]), kernel: Array(ws[2...]), params)
            let groups = xs[1] / ws[1]
            try withEachTileTable { _ in
                let y = try run1("Conv", [x, w, b], attrs)
                assertTensor(y, [xs[0], ws[0]] + g.outputShape, directConv(x.floats, xs, w.floats, ws, b.floats, g, groups: groups))
            }
        }
    }

    private func directConv(_ x: [Float], _ xs: [Int], _ w: [Float], _ ws: [Int], _ b: [Float], _ g: WindowGeometry,
                            groups: Int) -> [Float] {
        let (M, C) = (ws[0], xs[1]), cpg = C / groups, mpg = M / groups
        var out: [Float] = []
        for n in 0..<xs[0] { for m in 0..<M {
            for od in 0..<g.output[0] { for oh in 0..<g.output[1] { for ow in 0..<g.output[2] {
                var sum: Float = 0
                for ci in 0..<cpg { for kd in 0..<g.kernel[0] { for kh in 0..<g.kernel[1] { for kw in 0..<g.kernel[2] {
                    let o = [od, oh, ow], k = [kd, kh, kw]
                    let i = (0..<3).map { o[$0] * g.stride[$0] - g.padBegin[$0] + k[$0] * g.dilation[$0] }
                    guard (0..<3).allSatisfy({ i[$0] >= 0 && i[$0] < g.input[$0] }) else { continue }
                    let c = (m / mpg) * cpg + ci
                    let xv = x[((n * C + c) * g.input[0] + i[0]) * g.input[1] * g.input[2] + i[1] * g.input[2] + i[2]]
                    sum += xv * w[((m * cpg + ci) * g.kernel[0] + kd) * g.kernel[1] * g.kernel[2] + kh * g.kernel[2] + kw]
                } } } }
                out.append(sum + b[m])
            } } }
        } }
        return out
    }
}
