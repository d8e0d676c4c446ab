import Foundation
import ModelFormats
import ModelIR
import XCTest
@testable import ModelRuntime

/// APoZ counted inside the kernels (fused Conv epilogues, unary activation kernels) gives the same
/// totals as scanning each observed output after its node, and as running the chains unfused.
final class ApozFusedCountingTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures").standardized.path

    /// Forwards to an ApozObserver and records how each output was delivered. With `unfusing`
    /// it also wants (and ignores) every other output, so no chain runs fused.
    final class Spy: RuntimeObserver {
        let inner: ApozObserver
        let unfusing: Bool
        var byPlanes: Set<String> = []
        var byTensor: Set<String> = []
        var ranks: [String: Int] = [:]
        init(_ inner: ApozObserver, unfusing: Bool = false) {
            self.inner = inner
            self.unfusing = unfusing
        }
        func wantsOutput(of node: Node, named output: String) -> Bool {
            unfusing || inner.wantsOutput(of: node, named: output)
        }
        func wantsPlaneStatistics(of node: Node, named output: String) -> Bool {
            inner.wantsPlaneStatistics(of: node, named: output)
        }
        func observe(node: Node, output: String, tensor: RuntimeTensor) throws {
            guard inner.wantsOutput(of: node, named: output) else { return }
            byTensor.insert(output)
            ranks[output] = tensor.rank
            try inner.observe(node: node, output: output, tensor: tensor)
        }
        func observe(node: Node, output: String, tensor: RuntimeTensor, planes: UnsafeBufferPointer<PlaneStatistics>) throws {
            byPlanes.insert(output)
            ranks[output] = tensor.rank
            try inner.observe(node: node, output: output, tensor: tensor, planes: planes)
        }
    }

    /// The first `count` images of the bundled Fashion-MNIST slice as [count, 1, 28, 28] / 255.
    func images(_ count: Int) throws -> RuntimeTensor {
        let path = "\(Self.fixtures)/fashion-mnist/images.npy"
        guard let data = FileManager.default.contents(atPath: path) else { throw XCTSkip("\(path) is absent") }
        let bytes = [UInt8](data)
        // .npy version 1: magic (6), version (2), little-endian header length (2), header, uint8 data.
        let start = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
        let values = bytes[start..<(start + count * 784)].map { Float($0) / 255 }
        return T([count, 1, 28, 28], values)
    }

    /// Statistics over two batches (48 and 13 images) with the given observer setup.
    func collect(_ model: Model, countsInKernels: Bool, unfusing: Bool = false, threads: Int = 2) throws
        -> (stats: [TensorStatistics], spy: Spy) {
        let x = try images(61)
        let batches = [T([48, 1, 28, 28], Array(x.floats[..<(48 * 784)])), T([13, 1, 28, 28], Array(x.floats[(48 * 784)...]))]
        let interpreter = try Interpreter(model: model, threads: threads)
        let observer = ApozObserver(points: try ObservationPoints.find(in: model), threads: threads)
        observer.countsInKernels = countsInKernels
        let spy = Spy(observer, unfusing: unfusing)
        for b in batches { _ = try interpreter.run(inputs: ["input": b], observer: spy) }
        return (try observer.statistics(), spy)
    }

    func assertSame(_ a: [TensorStatistics], _ b: [TensorStatistics], exactSums: Bool, _ what: String,
                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.map(\.tensor), b.map(\.tensor), what, file: file, line: line)
        for (s, t) in zip(a, b) {
            XCTAssertEqual(s.zeros, t.zeros, "\(what) \(s.tensor) zeros", file: file, line: line)
            XCTAssertEqual(s.positions, t.positions, "\(what) \(s.tensor) positions", file: file, line: line)
            XCTAssertEqual(s.nonFinite, t.nonFinite, "\(what) \(s.tensor) nonFinite", file: file, line: line)
            for c in 0..<s.channels {
                if exactSums {
                    XCTAssertEqual(s.sums[c], t.sums[c], "\(what) \(s.tensor) sums[\(c)]", file: file, line: line)
                    XCTAssertEqual(s.sumsOfSquares[c], t.sumsOfSquares[c], "\(what) \(s.tensor) squares[\(c)]", file: file, line: line)
                } else {
                    XCTAssertEqual(s.sums[c], t.sums[c], accuracy: 1e-4 * max(1, abs(t.sums[c])), "\(what) \(s.tensor) sums[\(c)]",
                                   file: file, line: line)
                    XCTAssertEqual(s.sumsOfSquares[c], t.sumsOfSquares[c], accuracy: 1e-4 * max(1, abs(t.sumsOfSquares[c])),
                                   "\(what) \(s.tensor) squares[\(c)]", file: file, line: line)
                }
            }
        }
    }

    static let models = ["lenet", "lenet_dynamo", "vgg_style", "resnet_style", "mobilenet_style", "inception_style"]

    /// Every observed [N, C, H, W] tensor of every bundled model is counted by its kernel (fused
    /// Conv epilogue, or the Relu kernel after a residual Add); the [N, C] Relu outputs after a
    /// Gemm are scanned right after their node. The totals equal the scan's count for count, sums
    /// included: the same per-plane code adds planes in image order.
    func testKernelCountsEqualScannedCountsOnFixtureModels() throws {
        for name in Self.models {
            let path = "\(Self.fixtures)/models/\(name).onnx"
            guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) is absent") }
            let model = try ONNXReader.read(path: path)
            let fused = try collect(model, countsInKernels: true)
            let scanned = try collect(model, countsInKernels: false)
            XCTAssertEqual(fused.spy.byTensor, Set(fused.spy.ranks.filter { $0.value == 2 }.keys), "\(name): only dense outputs scanned")
            XCTAssertEqual(fused.spy.byPlanes, Set(fused.spy.ranks.filter { $0.value == 4 }.keys), name)
            XCTAssertFalse(fused.spy.byPlanes.isEmpty, name)
            XCTAssertEqual(fused.spy.byPlanes.count + fused.spy.byTensor.count, fused.stats.count, name)
            XCTAssertEqual(scanned.spy.byPlanes, [], name)
            assertSame(fused.stats, scanned.stats, exactSums: true, "\(name) kernel vs scan")
        }
    }

    /// The same against the chains run node by node (fusion disabled): the Relu/Clip kernels
    /// count then. Without batch norm the fused epilogue computes exactly the unfused values
    /// (conv + bias, then clamp), so all counts agree exactly; with batch norm folded into the
    /// epilogue the values differ by float rounding, so zeros may differ where a pre-activation
    /// is within rounding of zero.
    func testKernelCountsEqualUnfusedRunOnFixtureModels() throws {
        for name in Self.models {
            let path = "\(Self.fixtures)/models/\(name).onnx"
            guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) is absent") }
            let model = try ONNXReader.read(path: path)
            let fused = try collect(model, countsInKernels: true)
            let unfused = try collect(model, countsInKernels: true, unfusing: true)
            XCTAssertEqual(unfused.spy.byTensor, fused.spy.byTensor, name)
            let hasBatchNorm = model.graph.nodes.contains { $0.opType == "BatchNormalization" }
            if hasBatchNorm {
                XCTAssertEqual(fused.stats.map(\.positions), unfused.stats.map(\.positions), name)
                for (s, t) in zip(fused.stats, unfused.stats) {
                    for c in 0..<s.channels {
                        XCTAssertEqual(s.apoz[c], t.apoz[c], accuracy: 1e-3, "\(name) \(s.tensor) channel \(c)")
                        XCTAssertEqual(s.sums[c], t.sums[c], accuracy: 1e-4 * max(1, abs(t.sums[c])), "\(name) \(s.tensor) sums")
                    }
                }
            } else {
                assertSame(fused.stats, unfused.stats, exactSums: true, "\(name) fused vs unfused")
            }
        }
    }

    /// Conv variants with a hand-made channel mix, observed at the conv output itself (no
    /// activation, no bias: an epilogue that changes nothing but must still run to count),
    /// after a bias, and after Clip: the im2col, pointwise, depthwise and strided depthwise paths.
    func testEveryConvolutionPathCountsLikeTheScan() throws {
        // Zeros, NaNs and values of both signs.
        var values = [Float](repeating: 0, count: 3 * 4 * 63)
        for k in values.indices where k % 5 != 0 { values[k] = Float((k * 37) % 23) / 7 - 1.5 }
        for k in stride(from: 0, to: values.count, by: 13) { values[k] = .nan }
        let x = T([3, 4, 9, 7], values)
        let cases: [(String, [Int], [Attribute])] = [
            ("im2col 3x3", [6, 4, 3, 3], [ints("pads", [1, 1, 1, 1])]),
            ("pointwise", [5, 4, 1, 1], []),
            ("grouped", [4, 2, 3, 3], [int("group", 2)]),
            ("depthwise", [4, 1, 3, 3], [int("group", 4), ints("pads", [1, 1, 1, 1])]),
            ("depthwise stride 2", [8, 1, 3, 3], [int("group", 4), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1])]),
            ("depthwise 3-D", [4, 1, 1, 2, 2], [int("group", 4)]),
        ]
        for (what, wshape, attributes) in cases {
            let input = wshape.count == 5 ? T([3, 4, 1, 9, 7], x.floats) : x
            let m = wshape[0]
            let w: [Float] = (0..<wshape.reduce(1, *)).map { Float(($0 * 11) % 7) / 3 - 1 }
            let b: [Float] = (0..<m).map { Float($0) / 2 - 1 }
            let weights = Tensor(name: "w", floats: w, dims: wshape), bias = Tensor(name: "b", floats: b, dims: [m])
            let nodes = [
                Node(name: "plain", opType: "Conv", inputs: ["x", "w"], outputs: ["p"], attributes: attributes),
                Node(name: "biased", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["q"], attributes: attributes),
                Node(name: "clip", opType: "Clip", inputs: ["q"], outputs: ["y"], attributes: [float("min", 0), float("max", 1)]),
            ]
            let model = apozModel(nodes, outputs: ["p", "y"], initializers: [weights, bias], opset: 6)
            let points = try ObservationPoints.find(in: model, selection: .adding(["p"]))
            var results: [[TensorStatistics]] = []
            for counting in [true, false] {
                let observer = ApozObserver(points: points, threads: 2)
                observer.countsInKernels = counting
                let spy = Spy(observer)
                let interpreter = try Interpreter(model: model, threads: 2)
                _ = try interpreter.run(inputs: ["x": input], observer: spy)
                var one = input.shape
                one[0] = 1
                _ = try interpreter.run(inputs: ["x": T(one, Array(input.floats.prefix(input.count / 3)))], observer: spy)
                XCTAssertEqual(spy.byPlanes, counting ? ["p", "y"] : [], what)
                results.append(try observer.statistics())
            }
            assertSame(results[0], results[1], exactSums: true, what)
            XCTAssertGreaterThan(results[0][0].totalNonFinite, 0, "\(what): NaN inputs reach the plain conv's output")
        }
    }

    /// A dense [N, C] Relu is scanned right after its node (one-value planes would make a table
    /// larger than the data); non-finite values are counted apart there too.
    func testDenseReluIsScannedRightAfterItsNode() throws {
        let nodes = [
            Node(name: "fc", opType: "Gemm", inputs: ["x", "w"], outputs: ["h"]),
            Node(name: "act", opType: "Relu", inputs: ["h"], outputs: ["y"]),
        ]
        let model = apozModel(nodes, outputs: ["y"], initializers: [Tensor(name: "w", floats: [1, -1, 0, 1, 1, 0], dims: [2, 3])])
        let observer = ApozObserver(points: try ObservationPoints.find(in: model), threads: 2)
        let spy = Spy(observer)
        _ = try Interpreter(model: model, threads: 2).run(inputs: ["x": T([3, 2], [1, 2, .infinity, 0, -1, -1])], observer: spy)
        XCTAssertEqual(spy.byTensor, ["y"])
        let s = try observer.statistics()[0]
        // h = [x0 + x1, x1 - x0, 0·x0 + 0·x1]: [3, 1, 0], [inf, -inf, NaN (0·inf)], [-2, 0, 0];
        // Relu turns -inf and -2 into zeros and passes inf and NaN.
        XCTAssertEqual(s.zeros, [1, 2, 2])
        XCTAssertEqual(s.nonFinite, [1, 0, 1])
        XCTAssertEqual(s.positions, [3, 3, 3])
        XCTAssertEqual(s.sums, [3, 1, 0])
    }

    /// The dense scan (eight channels per vector) adds exactly what per-value planes would add.
    func testColumnStatisticsEqualOneValuePlanes() {
        let rows = 37, columns = 21
        var values = (0..<(rows * columns)).map { k -> Float in k % 4 == 0 ? 0 : Float((k * 13) % 17) / 3 - 2 }
        values[5] = .nan; values[30] = .infinity; values[44] = -.infinity; values[63] = -0.0; values[columns * rows - 1] = .nan
        let fast = values.withUnsafeBufferPointer { ApozObserver.columnStatistics($0.baseAddress!, rows: rows, columns: columns) }
        for column in 0..<columns {
            var slow = PlaneStatistics()
            for row in 0..<rows {
                slow.add(values.withUnsafeBufferPointer { PlaneStatistics($0.baseAddress! + row * columns + column, count: 1) })
            }
            XCTAssertEqual(fast[column], slow, "column \(column)")
        }
    }

    /// An epilogue that only counts must not be skipped as an identity, and must not change values.
    func testCountingEpilogueIsNeverIdentity() {
        var epilogue = ConvEpilogue(bias: nil, channels: 2)
        XCTAssertTrue(epilogue.isIdentity)
        let table = PlaneStatisticsTable()
        epilogue.statistics = table.claim(shape: [1, 2, 3])
        XCTAssertFalse(epilogue.isIdentity)
        var y: [Float] = [-0.0, 1, .nan, 0, -2, 3]
        y.withUnsafeMutableBufferPointer { p in
            epilogue.apply(p.baseAddress!, image: 0, channel: 0, count: 3)
            epilogue.apply(p.baseAddress! + 3, image: 0, channel: 1, count: 3)
        }
        XCTAssertEqual(y[0].sign, .minus, "values pass unchanged (-0 stays -0)")
        XCTAssertEqual(table.planes.map(\.zeros), [1, 1])
        XCTAssertEqual(table.planes.map(\.nonFinite), [1, 0])
        XCTAssertEqual(table.planes.map(\.sum), [1, 1])
    }

    /// Counting while mapping equals mapping then scanning, and both equal a plain Double loop:
    /// planes around the vector, pair and 1024-value block boundaries, with NaN and infinities in
    /// some blocks (which take the value-by-value path) and not in others.
    func testCountingWhileMappingEqualsScanningAfterwards() {
        for count in [1, 7, 8, 15, 16, 24, 263, 1023, 1024, 1025, 1031, 2600] {
            for poison in [nil, 3, count - 1, 1500] as [Int?] {
                var x = (0..<count).map { k -> Float in k % 3 == 0 ? -Float(k) : Float(k % 11) * 0.25 - 1 }
                if let poison, poison < count { x[poison] = poison % 2 == 0 ? .nan : -.infinity }
                if count > 20 { x[20] = .infinity }
                var y = [Float](repeating: 7, count: count)
                let mapped = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { PlaneStatistics(xp.baseAddress!, count: count, mapping: Relu(), into: $0.baseAddress!) }
                }
                let unmapped = x.withUnsafeBufferPointer { PlaneStatistics($0.baseAddress!, count: count, mapping: Relu(), into: nil) }
                let scanned = y.withUnsafeBufferPointer { PlaneStatistics($0.baseAddress!, count: count) }
                XCTAssertEqual(mapped, scanned, "\(count) \(String(describing: poison))")
                XCTAssertEqual(unmapped, scanned, "\(count) \(String(describing: poison))")
                let relu = x.map { $0 < 0 ? 0 : $0 }
                XCTAssertEqual(y.map(\.bitPattern), relu.map(\.bitPattern))
                let finite = relu.filter(\.isFinite)
                XCTAssertEqual(scanned.count, UInt64(count))
                XCTAssertEqual(scanned.zeros, UInt64(relu.filter { $0 == 0 }.count))
                XCTAssertEqual(scanned.nonFinite, UInt64(count - finite.count))
                XCTAssertEqual(scanned.sum, finite.map(Double.init).reduce(0, +), accuracy: 1e-3)
                XCTAssertEqual(scanned.sumOfSquares, finite.map { Double($0) * Double($0) }.reduce(0, +), accuracy: 1e-2)
            }
        }
    }

    #if DEBUG
    /// Debug builds (these tests) zero the table on every claim, so a plane left over from the
    /// previous output cannot pass for one the kernel skipped.
    func testTableStartsZeroedInDebugBuilds() {
        let table = PlaneStatisticsTable()
        let sink = table.claim(shape: [2, 3, 4])
        let values: [Float] = [1, 0, 2, 3]
        for p in 0..<6 { sink.record(PlaneStatistics(values, count: 4), plane: p) }
        XCTAssertEqual(table.planes.map(\.count), [4, 4, 4, 4, 4, 4])
        table.release()
        _ = table.claim(shape: [3, 2, 4])
        XCTAssertEqual(table.planes.map(\.count), [0, 0, 0, 0, 0, 0])
    }
    #endif

    /// A plane a kernel never recorded is an error, not a silent undercount.
    func testMissingPlaneIsAnError() throws {
        let observer = ApozObserver(points: [ObservationPoint(tensor: "y", node: "r", op: "Relu", producers: [])])
        let tensor = T([2, 1, 2], [0, 1, 0, 0])
        let planes = [PlaneStatistics([0, 1], count: 2), PlaneStatistics()]
        XCTAssertThrowsError(try planes.withUnsafeBufferPointer { p in
            try observer.observe(node: Node(opType: "Relu", inputs: [], outputs: []), output: "y", tensor: tensor, planes: p)
        }) { error in
            XCTAssertEqual((error as? ModelError)?.message, "observed tensor 'y': channel 0 was counted over 2 of 4 values")
        }
    }
}
