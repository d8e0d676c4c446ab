import XCTest
import ModelIR
@testable import ModelRuntime

/// A model from nodes, with float initializers and one fed input.
func apozModel(_ nodes: [Node], input: String = "x", outputs: [String], initializers: [Tensor] = [],
               opset: Int64 = 13) -> Model {
    Model(opsetImports: [OpsetImport(domain: "", version: opset)],
          graph: Graph(nodes: nodes, inputs: [ValueInfo(name: input)], outputs: outputs.map { ValueInfo(name: $0) },
                       initializers: initializers))
}

/// Runs `model` over `batches` with an ApozObserver on its default points and returns the statistics.
func collect(_ model: Model, _ batches: [RuntimeTensor], selection: ObservationPoints.Selection = .defaults,
             threads: Int = 2) throws -> [TensorStatistics] {
    let interpreter = try Interpreter(model: model, threads: threads)
    let observer = ApozObserver(points: try ObservationPoints.find(in: model, selection: selection), threads: threads)
    for b in batches { _ = try interpreter.run(inputs: ["x": b], observer: observer) }
    return try observer.statistics()
}

final class ApozObserverTests: XCTestCase {
    /// 1x1 conv from one input channel to three: x + 1 (always on), -x - 1 (dead), x - 3 (mixed),
    /// then BatchNormalization (identity statistics) and Relu. Inputs are 1, 2, 3, … so every
    /// count is known by hand.
    func plantedModel() -> Model {
        let nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"]),
            Node(name: "bn", opType: "BatchNormalization", inputs: ["c", "scale", "shift", "mean", "var"], outputs: ["n"],
                 attributes: [Attribute("epsilon", .float(0))]),
            Node(name: "relu", opType: "Relu", inputs: ["n"], outputs: ["y"]),
        ]
        let inits = [
            Tensor(name: "w", floats: [1, -1, 1], dims: [3, 1, 1, 1]), Tensor(name: "b", floats: [1, -1, -3], dims: [3]),
            Tensor(name: "scale", floats: [1, 1, 1], dims: [3]), Tensor(name: "shift", floats: [0, 0, 0], dims: [3]),
            Tensor(name: "mean", floats: [0, 0, 0], dims: [3]), Tensor(name: "var", floats: [1, 1, 1], dims: [3]),
        ]
        return apozModel(nodes, outputs: ["y"], initializers: inits)
    }

    func testPlantedDeadAndAlwaysOnChannels() throws {
        // Two batches of [2, 1, 3, 3] holding 1...18 and 19...36 (36 samples x positions, 9 per sample).
        let stats = try collect(plantedModel(), [iota([2, 1, 3, 3]), T([2, 1, 3, 3], (19...36).map(Float.init))])
        XCTAssertEqual(stats.count, 1)
        let s = stats[0]
        XCTAssertEqual(s.tensor, "y")
        XCTAssertEqual(s.producers, [ObservationPoint.Layer(name: "conv", op: "Conv")])
        XCTAssertEqual(s.channels, 3)
        XCTAssertEqual(s.positions, [36, 36, 36])
        XCTAssertEqual(s.zeros, [0, 36, 3])  // x - 3 <= 0 for x = 1, 2, 3
        XCTAssertEqual(s.apoz[0], 0.0)
        XCTAssertEqual(s.apoz[1], 1.0)
        XCTAssertEqual(s.apoz[2], 3.0 / 36.0)
        XCTAssertEqual(s.nonFinite, [0, 0, 0])
        let xs = (1...36).map(Double.init)
        XCTAssertEqual(s.sums[0], xs.map { $0 + 1 }.reduce(0, +))
        XCTAssertEqual(s.sums[1], 0)
        XCTAssertEqual(s.sums[2], xs.map { max(0, $0 - 3) }.reduce(0, +))
        XCTAssertEqual(s.sumsOfSquares[0], xs.map { ($0 + 1) * ($0 + 1) }.reduce(0, +))
        XCTAssertEqual(s.means[1], 0)
        XCTAssertEqual(s.standardDeviations[0], (xs.map { $0 * $0 }.reduce(0, +) / 36 - pow(18.5, 2)).squareRoot(), accuracy: 1e-9)
    }

    func testDenseLayerChannels() throws {
        // Gemm [N, 2] x [2, 3]: features x0 - x1, -x0 - 1, x0 + x1, then Relu.
        let nodes = [
            Node(name: "fc", opType: "Gemm", inputs: ["x", "w", "b"], outputs: ["h"]),
            Node(name: "act", opType: "Relu", inputs: ["h"], outputs: ["y"]),
        ]
        let model = apozModel(nodes, outputs: ["y"], initializers: [
            Tensor(name: "w", floats: [1, -1, 1, -1, 0, 1], dims: [2, 3]), Tensor(name: "b", floats: [0, -1, 0], dims: [3]),
        ])
        let x = T([4, 2], [1, 2, 3, 1, 0, 0, 5, 5])
        let s = try collect(model, [x])[0]
        XCTAssertEqual(s.producers, [ObservationPoint.Layer(name: "fc", op: "Gemm")])
        XCTAssertEqual(s.positions, [4, 4, 4])
        XCTAssertEqual(s.zeros, [3, 4, 1])  // x0-x1: -1, 2, 0, 0 → three zeros; x0+x1: 3, 4, 0, 10
        XCTAssertEqual(s.sums, [2, 0, 17])
    }

    func testMergedBatchesEqualOneBatchCountForCount() throws {
        let x = T([6, 1, 2, 2], (0..<24).map { Float(($0 * 7) % 11) - 4 })
        let whole = try collect(plantedModel(), [x])[0]
        let parts = try collect(plantedModel(), [T([4, 1, 2, 2], Array(x.floats[0..<16])), T([2, 1, 2, 2], Array(x.floats[16...]))])[0]
        XCTAssertEqual(whole.zeros, parts.zeros)
        XCTAssertEqual(whole.positions, parts.positions)
        for c in 0..<3 { XCTAssertEqual(whole.sums[c], parts.sums[c], accuracy: 1e-9) }
    }

    func testClipWithMinZeroIsObservedOtherClipsAreNot() throws {
        // Opset 13: bounds are inputs (an initializer and a Constant node); opset 6: attributes.
        let zero = Tensor(name: "zero", floats: [0], dims: [])
        let nodes13 = [
            Node(name: "six", opType: "Constant", inputs: [], outputs: ["six"], attributes: [Attribute("value", .tensor(Tensor(floats: [6], dims: [])))]),
            Node(name: "relu6", opType: "Clip", inputs: ["x", "zero", "six"], outputs: ["a"]),
            Node(name: "clipNeg", opType: "Clip", inputs: ["a", "six", ""], outputs: ["y"]),
        ]
        let points13 = try ObservationPoints.find(in: apozModel(nodes13, outputs: ["y"], initializers: [zero]))
        XCTAssertEqual(points13.map(\.tensor), ["a"])
        let nodes6 = [
            Node(name: "relu6", opType: "Clip", inputs: ["x"], outputs: ["a"], attributes: [Attribute("min", .float(0)), Attribute("max", .float(6))]),
            Node(name: "clip", opType: "Clip", inputs: ["a"], outputs: ["y"], attributes: [Attribute("min", .float(-1))]),
        ]
        XCTAssertEqual(try ObservationPoints.find(in: apozModel(nodes6, outputs: ["y"], opset: 6)).map(\.tensor), ["a"])
    }

    func testResidualAddReportsEveryProducer() throws {
        let nodes = [
            Node(name: "c1", opType: "Conv", inputs: ["x", "w"], outputs: ["a"]),
            Node(name: "c2", opType: "Conv", inputs: ["x", "w"], outputs: ["b"]),
            Node(name: "bn", opType: "BatchNormalization", inputs: ["b", "s", "s", "s", "s"], outputs: ["bb"]),
            Node(name: "add", opType: "Add", inputs: ["a", "bb"], outputs: ["sum"]),
            Node(name: "bias", opType: "Add", inputs: ["sum", "s"], outputs: ["biased"]),
            Node(name: "r", opType: "Relu", inputs: ["biased"], outputs: ["y"]),
        ]
        let model = apozModel(nodes, outputs: ["y"], initializers: [Tensor(name: "w", floats: [1], dims: [1, 1, 1, 1]),
                                                                    Tensor(name: "s", floats: [1], dims: [1])])
        let points = try ObservationPoints.find(in: model)
        XCTAssertEqual(points.map(\.producers), [[.init(name: "c1", op: "Conv"), .init(name: "c2", op: "Conv")]])
    }

    func testObserveRestrictsAndAdds() throws {
        let model = plantedModel()
        XCTAssertEqual(try ObservationPoints.find(in: model, selection: .only(["c"])).map(\.tensor), ["c"])
        XCTAssertEqual(try ObservationPoints.find(in: model, selection: .adding(["n", "y"])).map(\.tensor), ["n", "y"])
        XCTAssertThrowsError(try ObservationPoints.find(in: model, selection: .only(["nope"]))) { error in
            XCTAssertEqual((error as? ModelError)?.message, "--observe: no node produces 'nope' (graph inputs and initializers cannot be observed)")
        }
    }

    func testModelWithoutActivationIsRefused() throws {
        let model = apozModel([Node(name: "s", opType: "Sigmoid", inputs: ["x"], outputs: ["y"])], outputs: ["y"])
        XCTAssertThrowsError(try ObservationPoints.find(in: model)) { error in
            XCTAssertEqual((error as? ModelError)?.message,
                           "the model has no observable activation (no Relu, no Clip with min 0, no SiLU, GELU, HardSwish, ELU, LeakyRelu, PRelu, Mish or Softplus); name tensors with --observe")
        }
    }

    func testNonFiniteValuesAreCountedApartNeverAsZeros() throws {
        let point = ObservationPoint(tensor: "y", node: "r", op: "Relu", producers: [])
        let observer = ApozObserver(points: [point], threads: 1)
        // Channel 0: 9 values (one vector + a scalar tail) with NaN and +inf in both paths.
        let c0: [Float] = [0, .nan, 2, .infinity, 0, -0.0, 1, 1, .nan]
        let c1: [Float] = [Float](repeating: 0, count: 9)
        try observer.observe(node: Node(opType: "Relu", inputs: [], outputs: []), output: "y", tensor: T([1, 2, 9], c0 + c1))
        let s = try observer.statistics()[0]
        XCTAssertEqual(s.zeros, [3, 9])
        XCTAssertEqual(s.nonFinite, [3, 0])
        XCTAssertEqual(s.positions, [9, 9])
        XCTAssertEqual(s.sums, [4, 0])
        XCTAssertEqual(s.sumsOfSquares, [6, 0])
        XCTAssertEqual(s.totalNonFinite, 3)
    }

    func testLongPlanesKeepDoublePrecisionAndMatchScalarCounts() throws {
        // 3000 positions: blocks of 1024 in float lanes, then Double; compare with a plain loop.
        let values = (0..<3000).map { k -> Float in k % 7 == 0 ? 0 : Float(k) * 0.001 + 1000 }
        let stats = values.withUnsafeBufferPointer { PlaneStatistics($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(stats.zeros, UInt64(values.filter { $0 == 0 }.count))
        let exact = values.map(Double.init).reduce(0, +)
        XCTAssertEqual(stats.sum, exact, accuracy: exact * 1e-6)
    }

    func testChannelCountChangeIsAnError() throws {
        let point = ObservationPoint(tensor: "y", node: "r", op: "Relu", producers: [])
        let observer = ApozObserver(points: [point])
        let node = Node(opType: "Relu", inputs: [], outputs: [])
        try observer.observe(node: node, output: "y", tensor: T([1, 2], [0, 1]))
        XCTAssertThrowsError(try observer.observe(node: node, output: "y", tensor: T([1, 3], [0, 1, 2])))
        XCTAssertThrowsError(try observer.observe(node: node, output: "y", tensor: T([3], [0, 1, 2]))) { error in
            XCTAssertEqual((error as? ModelError)?.message, "observed tensor 'y' has shape [3]; APoZ needs a channel axis 1 ([N, C] or [N, C, …])")
        }
    }

    func testPointNeverComputedIsAnError() throws {
        let observer = ApozObserver(points: [ObservationPoint(tensor: "y", node: "r", op: "Relu", producers: [])])
        XCTAssertThrowsError(try observer.statistics())
    }
}
