import Datasets
import ModelIR
import ModelPipeline
import ModelRuntime
import XCTest

final class StatisticsFileTests: XCTestCase {
    func testCollectWriteReadAndFingerprintCheck() throws {
        let model = try ModelFile.open(lenet)
        var settings = fashionScale
        settings.limit = 40
        settings.batch = 16
        let result = try ApozCollection(model: model, modelFile: lenet, data: fashionImages, settings: settings).run()
        let stats = result.statistics
        XCTAssertEqual(stats.samples, 40)
        XCTAssertEqual(stats.tensors.count, 3)
        XCTAssertEqual(stats.runs.first?.preprocessing, "scale 0.003921569, layout nchw")
        XCTAssertEqual(stats.warnings, [])

        let path = try temporaryDirectory(self).appendingPathComponent("stats.json").path
        try stats.write(to: path)
        XCTAssertEqual(try ApozStatistics.read(from: path), stats)
        XCTAssertEqual(try ApozStatistics.read(from: path, for: model, modelFile: "m.onnx"), stats)

        // Another weight is another model.
        var changed = model
        let i = changed.graph.initializers.firstIndex { $0.dataType == .float }!
        var floats = try changed.graph.initializers[i].floats()
        floats[0] += 1
        changed.graph.initializers[i] = Tensor(name: changed.graph.initializers[i].name, floats: floats,
                                               dims: changed.graph.initializers[i].dims)
        XCTAssertThrowsError(try ApozStatistics.read(from: path, for: changed, modelFile: "other.onnx")) { error in
            XCTAssertEqual((error as? StatisticsError)?.message,
                           "\(path) was collected on a different model (\(lenet)) than other.onnx: their graph or weights differ")
        }
        XCTAssertThrowsError(try ApozStatistics.read(from: path + ".missing")) { error in
            XCTAssertTrue((error as? StatisticsError)?.message.hasPrefix("\(path).missing: cannot read") == true)
        }
    }

    func testEmptySelectionIsRefused() throws {
        var settings = fashionScale
        settings.limit = 10
        let collection = ApozCollection(model: try ModelFile.open(lenet), modelFile: lenet, data: fashionImages,
                                        settings: settings, shard: try .init(index: 9, count: 10))
        XCTAssertNoThrow(try collection.run())
        let empty = ApozCollection(model: try ModelFile.open(lenet), modelFile: lenet, data: fashionImages,
                                   settings: settings, shard: try .init(index: 10, count: 20))
        XCTAssertThrowsError(try empty.run())
    }
}
