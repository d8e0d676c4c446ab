import Foundation
import ModelFormats
import ModelIR
import XCTest
@testable import ModelRuntime

/// With several threads, batches of per-sample graphs run as independent slices, one per thread
/// (`Interpreter.run`, `BatchIndependence`): outputs and APoZ statistics equal one whole run.
final class BatchSlicingTests: XCTestCase {
    /// For its helpers (bundled images, statistics collection, comparison).
    let counting = ApozFusedCountingTests(name: "helpers", testClosure: { _ in })

    func model(_ name: String) throws -> Model {
        let path = "\(ApozFusedCountingTests.fixtures)/models/\(name).onnx"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) is absent") }
        return try ONNXReader.read(path: path)
    }

    func testEveryFixtureModelSplitsAndMatchesOneThread() throws {
        let x = try counting.images(37)
        for name in ApozFusedCountingTests.models {
            let m = try model(name)
            let one = try Interpreter(model: m, threads: 1), two = try Interpreter(model: m, threads: 2)
            XCTAssertTrue(two.splitsBatches, name)
            let a = try one.run(inputs: ["input": x]), b = try two.run(inputs: ["input": x])
            XCTAssertEqual(Set(a.keys), Set(b.keys), name)
            for (key, t) in a {
                let u = b[key]!
                XCTAssertEqual(t.shape, u.shape, name)
                for (p, q) in zip(t.floats, u.floats) { XCTAssertEqual(p, q, accuracy: 1e-5 * max(1, abs(p)), "\(name) \(key)") }
            }
        }
    }

    /// Slices reach the observer in batch order: counts equal a single-threaded run's exactly,
    /// and sums up to the grouping of the additions (a batch arrives in two calls).
    func testStatisticsOfSlicesEqualOneThread() throws {
        for name in ApozFusedCountingTests.models {
            let m = try model(name)
            let sliced = try counting.collect(m, countsInKernels: true, threads: 2)
            let whole = try counting.collect(m, countsInKernels: true, threads: 1)
            counting.assertSame(sliced.stats, whole.stats, exactSums: false, "\(name) two threads vs one")
        }
    }

    /// A Reshape to a fixed batch size, or a Softmax across the batch, keeps batches whole; so does
    /// an input with a fixed first dimension.
    func testGraphsThatMixSamplesStayWhole() throws {
        func graph(_ nodes: [Node], input: [Dim], initializers: [Tensor] = []) -> Graph {
            Graph(name: "g", nodes: nodes, inputs: [ValueInfo(name: "x", tensor: TensorType(.float, Shape(input)))],
                  outputs: [ValueInfo(name: "y")], initializers: initializers)
        }
        let batch = Dim.symbol("N")
        let fixedShape = Tensor(name: "s", int64s: [4, -1], dims: [2])
        let freeShape = Tensor(name: "s", int64s: [-1, 6], dims: [2])
        let reshape = Node(opType: "Reshape", inputs: ["x", "s"], outputs: ["y"])
        XCTAssertFalse(try Interpreter(graph: graph([reshape], input: [batch, .fixed(6)], initializers: [fixedShape]), opset: 13, threads: 2).splitsBatches)
        XCTAssertTrue(try Interpreter(graph: graph([reshape], input: [batch, .fixed(6)], initializers: [freeShape]), opset: 13, threads: 2).splitsBatches)
        let softmax0 = Node(opType: "Softmax", inputs: ["x"], outputs: ["y"], attributes: [Attribute("axis", .int(0))])
        XCTAssertFalse(try Interpreter(graph: graph([softmax0], input: [batch, .fixed(6)]), opset: 13, threads: 2).splitsBatches)
        let relu = Node(opType: "Relu", inputs: ["x"], outputs: ["y"])
        XCTAssertTrue(try Interpreter(graph: graph([relu], input: [batch, .fixed(6)]), opset: 13, threads: 2).splitsBatches)
        XCTAssertFalse(try Interpreter(graph: graph([relu], input: [.fixed(4), .fixed(6)]), opset: 13, threads: 2).splitsBatches)

        // Softmax across the batch, run with two threads: the values of one whole run.
        let x = T([4, 3], (0..<12).map { Float($0) / 3 })
        let one = try Interpreter(graph: graph([softmax0], input: [batch, .fixed(3)]), opset: 13, threads: 1)
        let two = try Interpreter(graph: graph([softmax0], input: [batch, .fixed(3)]), opset: 13, threads: 2)
        XCTAssertEqual(try two.run(inputs: ["x": x])["y"]!.floats, try one.run(inputs: ["x": x])["y"]!.floats)
    }
}
