import Foundation
import ModelIR
import XCTest

@testable import ModelFormats

final class ONNXWriterTests: XCTestCase {
    func testExternalDataIsAlignedAndReadBack() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("m.onnx").path
        var model = smallModel()
        model.graph.initializers.append(Tensor(name: "b", floats: [7, 8], dims: [2]))
        model.graph.outputs.append(ValueInfo(name: "b"))
        let report = try ONNXWriter.write(model, to: path, externalData: .all(threshold: 0))
        XCTAssertEqual(report.externalDataPath, path + ".data")
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path + ".data")))
        XCTAssertEqual(data.count, 4096 + 8, "second tensor starts at the next 4 KiB boundary")
        let back = try ONNXReader.read(path: path)
        XCTAssertEqual(try back.graph.initializers[0].floats(), [1, -2, 3, -4, 5, -6])
        XCTAssertEqual(try back.graph.initializers[1].floats(), [7, 8])
        // Written again as read, the tensors stay external.
        let again = dir.appendingPathComponent("again.onnx").path
        let second = try ONNXWriter.write(back, to: again)
        XCTAssertEqual(second.externalBytes, 32)
        XCTAssertEqual(try ONNXReader.read(path: again), try ONNXReader.read(path: path))
    }

    func testOversizedModelMovesWeightsOutAutomatically() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("big.onnx").path
        let model = smallModel(weights: [Float](repeating: 0.5, count: 600), dims: [2, 300])
        let report = try ONNXWriter.write(model, to: path, externalData: .asRead, limit: 2000)
        XCTAssertTrue(report.externalizedAutomatically)
        XCTAssertLessThan(report.modelBytes, 2000)
        XCTAssertEqual(try ONNXReader.read(path: path).graph.initializers[0].floats().count, 600)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ONNXWriter.write(model, to: path, externalData: .none, limit: 2000))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "refused before anything is written")
    }

    func testFailedWriteLeavesTheOriginal() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("keep.onnx").path
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicFile.write(to: path) { sink in
            sink.write([9, 9, 9, 9])
            throw Boom()
        })
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), [1, 2, 3])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["keep.onnx"], "no temp file left")
        // An invalid model is refused before anything is written.
        var bad = smallModel()
        bad.graph.nodes[1].inputs = ["nowhere"]
        XCTAssertThrowsError(try ONNXWriter.write(bad, to: path))
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), [1, 2, 3])
    }

    /// Files prepared but never committed leave the targets alone and no temporary files behind.
    func testPreparedFilesWithoutCommitChangeNothing() throws {
        let dir = try temporaryDirectory(self)
        let a = dir.appendingPathComponent("m.onnx").path
        try Data([1, 2]).write(to: URL(fileURLWithPath: a))
        do {
            let pendingA = try AtomicFile.prepare(to: a) { $0.write([7, 7, 7]) }
            let pendingB = try AtomicFile.prepare(to: a + ".data") { $0.write([8]) }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).count, 3, "target + two temporaries")
            _ = (pendingA, pendingB)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["m.onnx"])
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: a))), [1, 2])
    }
}
