import Datasets
import ModelIR
import ModelPipeline
import ModelRuntime
import XCTest

final class BatchLoopTests: XCTestCase {
    /// Five samples in batches of two: three batches, progress from 0 to 5, rows in sample order.
    func testLoopStreamsSlicesAndReportsProgress() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("five.npy").path
        let values = (0..<(5 * 28 * 28)).map { Float($0 % 251) }
        try NpyWriter.write(to: path, shape: [5, 28, 28]) { append in values.withUnsafeBufferPointer(append) }

        let model = try ModelFile.open(lenet)
        let prepared = try PreparedRun(model: model, data: path, settings: DataSettings(batch: 2))
        let batches = try prepared.batches(selection: SampleSelection())
        var ranges: [Range<Int>] = []
        var rows: [Int] = []
        var progress: [[Int]] = []
        try prepared.forEach(batches, progress: { progress.append([$0, $1]) }) { batch, outputs in
            ranges.append(batch.range)
            rows.append(outputs["logits"]?.shape.first ?? -1)
        }
        XCTAssertEqual(ranges, [0..<2, 2..<4, 4..<5])
        XCTAssertEqual(rows, [2, 2, 1])
        XCTAssertEqual(progress, [[0, 5], [2, 5], [4, 5], [5, 5]])

        // The same samples in one batch give the same outputs as in three, up to rounding: BLAS
        // may sum a product in another order for another row count (OpenBLAS's Haswell sgemm
        // differs in the last bits between 5 rows and 2), so within a millionth of the largest.
        let all = try ModelOutputs.collect(model: model, data: path, settings: DataSettings(batch: 5))
        let split = try ModelOutputs.collect(model: model, data: path, settings: DataSettings(batch: 2))
        XCTAssertEqual(all.samples, 5)
        XCTAssertEqual(all.shapes["logits"], [5, 10])
        let a = all.values["logits"] ?? [], b = split.values["logits"] ?? []
        XCTAssertEqual(a.count, 50)
        let largest = a.map(abs).max() ?? 0
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6 * max(1, largest)) }
    }

    /// The model reads each batch where the iterator put it; an output that is the input itself
    /// (Identity, or a Reshape of it) is copied, so that outputs kept past their batch keep its
    /// values. Both ways through the interpreter: whole (one thread) and as slices (two threads).
    func testOutputsThatAreTheInputOutliveTheirBatch() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("six.npy").path
        let values = (0..<(6 * 4)).map { Float($0) }
        try NpyWriter.write(to: path, shape: [6, 4]) { append in values.withUnsafeBufferPointer(append) }
        let type = TensorType(.float, Shape([.symbol("n"), .fixed(4)]))
        let graph = Graph(name: "echo", nodes: [
            Node(name: "same", opType: "Identity", inputs: ["x"], outputs: ["y"]),
            Node(name: "twice", opType: "Add", inputs: ["x", "x"], outputs: ["z"]),
        ], inputs: [ValueInfo(name: "x", tensor: type)],
           outputs: [ValueInfo(name: "y", tensor: type), ValueInfo(name: "z", tensor: type)])
        for threads in [1, 2] {
            let prepared = try PreparedRun(model: Model(graph: graph), data: path, settings: DataSettings(batch: 2, threads: threads))
            var kept: [[String: RuntimeTensor]] = []
            var inputs: [Float] = []
            try prepared.forEach(try prepared.batches(selection: SampleSelection())) { batch, outputs in
                kept.append(outputs)
                inputs += Array(batch.values)
            }
            XCTAssertEqual(inputs, values)
            XCTAssertEqual(kept.flatMap { $0["y"]?.floats ?? [] }, values, "threads \(threads)")
            XCTAssertEqual(kept.flatMap { $0["z"]?.floats ?? [] }, values.map { 2 * $0 }, "threads \(threads)")
        }
    }

    func testLimitAndPreprocessingApply() throws {
        var settings = fashionScale
        settings.limit = 3
        let outputs = try ModelOutputs.collect(model: try ModelFile.open(lenet), data: fashionImages, settings: settings)
        XCTAssertEqual(outputs.samples, 3)
        let dir = try temporaryDirectory(self)
        let files = try outputs.write(to: dir.appendingPathComponent("y.npz").path)
        XCTAssertEqual(files.count, 1)
    }
}
