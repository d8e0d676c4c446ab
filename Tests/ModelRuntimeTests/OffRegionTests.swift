import XCTest
import Foundation
import ModelIR
@testable import ModelRuntime

/// Off-region counting: activations that are near zero for inputs ≤ 0 are observed at their
/// output, with the values ≤ 0 of their input counted and the output's sums kept.
final class OffRegionTests: XCTestCase {
    /// An activation form: its nodes from pre-activation "c" to output "y", extra constants, and
    /// the function it computes (for the expected sums).
    struct Form {
        var name: String
        var nodes: [Node]
        var constants: [Tensor] = []
        var f: (Double) -> Double
    }

    static func erf(_ x: Double) -> Double { Foundation.erf(x) }
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    static func softplus(_ x: Double) -> Double { Foundation.log1p(Foundation.exp(x)) }

    static let forms: [Form] = [
        Form(name: "LeakyRelu", nodes: [Node(name: "act", opType: "LeakyRelu", inputs: ["c"], outputs: ["y"],
                                             attributes: [Attribute("alpha", .float(0.1))])],
             f: { $0 >= 0 ? $0 : 0.1 * $0 }),
        Form(name: "PRelu", nodes: [Node(name: "act", opType: "PRelu", inputs: ["c", "slope"], outputs: ["y"])],
             constants: [Tensor(name: "slope", floats: [0.25, 0.25, 0.25], dims: [3, 1, 1])],
             f: { $0 >= 0 ? $0 : 0.25 * $0 }),
        Form(name: "Elu", nodes: [Node(name: "act", opType: "Elu", inputs: ["c"], outputs: ["y"])],
             f: { $0 >= 0 ? $0 : Foundation.exp($0) - 1 }),
        Form(name: "HardSwish", nodes: [Node(name: "act", opType: "HardSwish", inputs: ["c"], outputs: ["y"])],
             f: { $0 * max(0, min(1, $0 / 6 + 0.5)) }),
        Form(name: "Gelu", nodes: [Node(name: "act", opType: "Gelu", inputs: ["c"], outputs: ["y"])],
             f: { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }),
        Form(name: "Softplus", nodes: [Node(name: "act", opType: "Softplus", inputs: ["c"], outputs: ["y"])],
             f: softplus),
        Form(name: "x·Sigmoid(x)", nodes: [
            Node(name: "sig", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]),
            Node(name: "act", opType: "Mul", inputs: ["c", "s"], outputs: ["y"]),
        ], f: { $0 * sigmoid($0) }),
        Form(name: "x·HardSigmoid(x)", nodes: [
            Node(name: "hs", opType: "HardSigmoid", inputs: ["c"], outputs: ["s"],
                 attributes: [Attribute("alpha", .float(1.0 / 6)), Attribute("beta", .float(0.5))]),
            Node(name: "act", opType: "Mul", inputs: ["s", "c"], outputs: ["y"]),
        ], f: { $0 * max(0, min(1, $0 / 6 + 0.5)) }),
        Form(name: "Mish", nodes: [
            Node(name: "sp", opType: "Softplus", inputs: ["c"], outputs: ["p"]),
            Node(name: "th", opType: "Tanh", inputs: ["p"], outputs: ["t"]),
            Node(name: "act", opType: "Mul", inputs: ["c", "t"], outputs: ["y"]),
        ], f: { $0 * Foundation.tanh(softplus($0)) }),
        Form(name: "GELU from Erf", nodes: [
            Node(name: "div", opType: "Div", inputs: ["c", "sqrt2"], outputs: ["d"]),
            Node(name: "erf", opType: "Erf", inputs: ["d"], outputs: ["e"]),
            Node(name: "add", opType: "Add", inputs: ["e", "one"], outputs: ["a"]),
            Node(name: "mul", opType: "Mul", inputs: ["c", "a"], outputs: ["m"]),
            Node(name: "act", opType: "Mul", inputs: ["m", "half"], outputs: ["y"]),
        ], constants: [Tensor(name: "sqrt2", floats: [1.4142135], dims: []), Tensor(name: "one", floats: [1], dims: []),
                       Tensor(name: "half", floats: [0.5], dims: [])],
        f: { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }),
        Form(name: "paddle hardswish", nodes: [
            Node(name: "add", opType: "Add", inputs: ["c", "three"], outputs: ["a"]),
            Node(name: "clip", opType: "Clip", inputs: ["a", "zero", "six"], outputs: ["r"]),
            Node(name: "mul", opType: "Mul", inputs: ["c", "r"], outputs: ["m"]),
            Node(name: "act", opType: "Div", inputs: ["m", "six"], outputs: ["y"]),
        ], constants: [Tensor(name: "three", floats: [3], dims: []), Tensor(name: "zero", floats: [0], dims: []),
                       Tensor(name: "six", floats: [6], dims: [])],
        f: { $0 * max(0, min(6, $0 + 3)) / 6 }),
    ]

    /// x → 1×1 Conv to three channels, x + 1 (never ≤ 0 for x ≥ 1), −x − 1 (always < 0), x − 3
    /// (≤ 0 for x = 1, 2, 3), named "c", then the form.
    func model(_ form: Form) -> Model {
        let conv = Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"])
        let inits = [Tensor(name: "w", floats: [1, -1, 1], dims: [3, 1, 1, 1]), Tensor(name: "b", floats: [1, -1, -3], dims: [3])]
        return apozModel([conv] + form.nodes, outputs: ["y"], initializers: inits + form.constants, opset: 20)
    }

    /// The pre-activation values of each channel for inputs `xs`.
    let channels: [(Double) -> Double] = [{ $0 + 1 }, { -$0 - 1 }, { $0 - 3 }]

    func check(_ form: Form, shape: [Int], threads: Int, inKernels: Bool, file: StaticString = #filePath,
               line: UInt = #line) throws {
        let m = model(form)
        let points = try ObservationPoints.find(in: m)
        XCTAssertEqual(points.map(\.tensor), ["y"], "\(form.name): the inner nodes are no points", file: file, line: line)
        XCTAssertEqual(points.first?.input, "c", form.name, file: file, line: line)
        XCTAssertEqual(points.first?.region, .nonPositive, form.name, file: file, line: line)
        XCTAssertEqual(points.first?.producers, [ObservationPoint.Layer(name: "conv", op: "Conv")], form.name, file: file, line: line)
        let interpreter = try Interpreter(model: m, threads: threads)
        let observer = ApozObserver(points: points, threads: threads)
        observer.countsInKernels = inKernels
        let count = shape.reduce(1, *)
        let batches = [iota(shape), T(shape, (count + 1...2 * count).map(Float.init))]
        for b in batches { _ = try interpreter.run(inputs: ["x": b], observer: observer) }
        let s = try observer.statistics()[0]
        let xs = (1...2 * count).map(Double.init)
        XCTAssertEqual(s.region, .nonPositive, file: file, line: line)
        XCTAssertEqual(s.input, "c", file: file, line: line)
        XCTAssertEqual(s.positions, [UInt64](repeating: UInt64(2 * count), count: 3), form.name, file: file, line: line)
        XCTAssertEqual(s.zeros, [0, UInt64(2 * count), 3], "\(form.name): off-region counts", file: file, line: line)
        XCTAssertEqual(s.nonFinite, [0, 0, 0], form.name, file: file, line: line)
        for c in 0..<3 {
            let expected = xs.map { form.f(channels[c]($0)) }.reduce(0, +)
            XCTAssertEqual(s.sums[c], expected, accuracy: 1e-4 * max(1, abs(expected)), "\(form.name) channel \(c) sum",
                           file: file, line: line)
        }
    }

    func testEveryFormCountsTheInputsOffRegionInKernelsAndByScan() throws {
        for form in Self.forms {
            // Planes of 9 values: counted by the kernel that writes them, or scanned.
            try check(form, shape: [2, 1, 3, 3], threads: 2, inKernels: true)
            try check(form, shape: [2, 1, 3, 3], threads: 1, inKernels: false)
            // Planes of 4 values, scanned row by row.
            try check(form, shape: [2, 1, 2, 2], threads: 1, inKernels: true)
        }
    }

    func testBlockedConvolutionsCountTheOffRegionAsTheScanDoes() throws {
        // 32 channels: the convolutions run channel-blocked and count their outputs (the SiLU's
        // and HardSwish's inputs) in their blocks; the scan of plain tensors must agree exactly.
        func values(_ n: Int, _ seed: Int) -> [Float] { (0..<n).map { Float(sin(Double($0 * 7 + seed) * 1.3)) * 0.4 } }
        let nodes = [
            Node(name: "conv1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"],
                 attributes: [Attribute("kernel_shape", .ints([3, 3])), Attribute("pads", .ints([1, 1, 1, 1]))]),
            Node(name: "sig", opType: "Sigmoid", inputs: ["c1"], outputs: ["s1"]),
            Node(name: "silu", opType: "Mul", inputs: ["c1", "s1"], outputs: ["a1"]),
            Node(name: "conv2", opType: "Conv", inputs: ["a1", "w2", "b2"], outputs: ["c2"],
                 attributes: [Attribute("kernel_shape", .ints([3, 3])), Attribute("pads", .ints([1, 1, 1, 1]))]),
            Node(name: "hswish", opType: "HardSwish", inputs: ["c2"], outputs: ["y"]),
        ]
        let model = apozModel(nodes, outputs: ["y"], initializers: [
            Tensor(name: "w1", floats: values(32 * 3 * 9, 1), dims: [32, 3, 3, 3]), Tensor(name: "b1", floats: values(32, 2), dims: [32]),
            Tensor(name: "w2", floats: values(32 * 32 * 9, 3), dims: [32, 32, 3, 3]), Tensor(name: "b2", floats: values(32, 4), dims: [32]),
        ], opset: 20)
        let x = T([3, 3, 10, 10], values(900, 5).map { $0 * 2 })
        func run(blocked: Bool, inKernels: Bool, threads: Int) throws -> [TensorStatistics] {
            let interpreter = try Interpreter(model: model, threads: threads)
            interpreter.blockedLayout = blocked
            let observer = ApozObserver(points: try ObservationPoints.find(in: model), threads: threads)
            observer.countsInKernels = inKernels
            _ = try interpreter.run(inputs: ["x": x], observer: observer)
            return try observer.statistics()
        }
        let reference = try run(blocked: false, inKernels: false, threads: 1)
        XCTAssertEqual(reference.map(\.input), ["c1", "c2"])
        XCTAssertTrue(reference.allSatisfy { $0.zeros.contains { $0 > 0 } && $0.zeros.contains { $0 < 300 } }, "mixed channels")
        for (blocked, inKernels, threads) in [(true, true, 1), (true, true, 2), (false, true, 2), (true, false, 2)] {
            let s = try run(blocked: blocked, inKernels: inKernels, threads: threads)
            XCTAssertEqual(s.map(\.zeros), reference.map(\.zeros), "blocked \(blocked), in kernels \(inKernels), \(threads) threads")
            XCTAssertEqual(s.map(\.positions), reference.map(\.positions))
            for (a, b) in zip(s, reference) {
                for c in 0..<a.channels { XCTAssertEqual(a.sums[c], b.sums[c], accuracy: 1e-3 * max(1, abs(b.sums[c]))) }
            }
        }
    }

    func testDenseLayerOffRegion() throws {
        // Gemm [N, 1] x [1, 3] with the same three features, then HardSwish: [N, C] columns.
        let nodes = [
            Node(name: "fc", opType: "Gemm", inputs: ["x", "w", "b"], outputs: ["c"]),
            Node(name: "act", opType: "HardSwish", inputs: ["c"], outputs: ["y"]),
        ]
        let model = apozModel(nodes, outputs: ["y"], initializers: [
            Tensor(name: "w", floats: [1, -1, 1], dims: [1, 3]), Tensor(name: "b", floats: [1, -1, -3], dims: [3]),
        ], opset: 20)
        // 20 samples: eight columns at a time would need 8 channels; 3 go value by value.
        let s = try collect(model, [iota([20, 1])])[0]
        XCTAssertEqual(s.zeros, [0, 20, 3])
        XCTAssertEqual(s.positions, [20, 20, 20])
        var expected = 0.0
        for k in 1...20 {
            let v = Double(k) - 3
            expected += v * max(0, min(1, v / 6 + 0.5))
        }
        XCTAssertEqual(s.sums[2], expected, accuracy: 1e-4)
    }

    func testColumnScanCountsNonPositiveValues() {
        // Eight columns (the vector path): 0, −0, −1, 1, NaN, −inf, +inf, −1e-45 in one row.
        let row: [Float] = [0, -0.0, -1, 1, .nan, -.infinity, .infinity, -Float.leastNonzeroMagnitude]
        let totals = row.withUnsafeBufferPointer {
            ApozObserver.columnStatistics($0.baseAddress!, rows: 1, columns: 8, region: .nonPositive)
        }
        XCTAssertEqual(totals.map(\.zeros), [1, 1, 1, 0, 0, 1, 0, 1])
        let zeros = row.withUnsafeBufferPointer { ApozObserver.columnStatistics($0.baseAddress!, rows: 1, columns: 8) }
        XCTAssertEqual(zeros.map(\.zeros), [1, 1, 0, 0, 0, 0, 0, 0])
        // The plane scan agrees: eight values (with a NaN, counted again value by value), and seven
        // values without the last (counted value by value).
        let plane = row.withUnsafeBufferPointer { PlaneStatistics($0.baseAddress!, count: 8, region: .nonPositive) }
        XCTAssertEqual(plane.zeros, 5)
        let tail = row.withUnsafeBufferPointer { PlaneStatistics($0.baseAddress!, count: 7, region: .nonPositive) }
        XCTAssertEqual(tail.zeros, 4)
    }

    func testReluStaysThePapersZeroCount() throws {
        // A Relu after the same conv: zeros of the output, as before.
        let m = model(Form(name: "Relu", nodes: [Node(name: "act", opType: "Relu", inputs: ["c"], outputs: ["y"])], f: { max(0, $0) }))
        let points = try ObservationPoints.find(in: m)
        XCTAssertEqual(points.first?.region, .zeros)
        XCTAssertNil(points.first?.input)
        let s = try collect(m, [iota([2, 1, 3, 3])])[0]
        XCTAssertEqual(s.zeros, [0, 18, 3])
        XCTAssertEqual(s.region, .zeros)
    }

    func testClipOutsideAHardswishIsStillARelu6() throws {
        // Clip(x + 3, 0, 6) read by something other than x·(…)/6 stays a ReLU6 point.
        let form = Form(name: "relu6", nodes: [
            Node(name: "add", opType: "Add", inputs: ["c", "three"], outputs: ["a"]),
            Node(name: "act", opType: "Clip", inputs: ["a", "zero", "six"], outputs: ["y"]),
        ], constants: [Tensor(name: "three", floats: [3], dims: []), Tensor(name: "zero", floats: [0], dims: []),
                       Tensor(name: "six", floats: [6], dims: [])], f: { $0 })
        let points = try ObservationPoints.find(in: model(form))
        XCTAssertEqual(points.map(\.tensor), ["y"])
        XCTAssertEqual(points.first?.region, .zeros)
    }
}
