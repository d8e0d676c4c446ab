import Foundation
import XCTest

final class ConvertCommandTests: XCTestCase {
    func testLosslessRoundTripIsByteIdentical() throws {
        let dir = try temporaryDirectory(self)
        let out = dir.appendingPathComponent("copy.onnx").path
        for model in ["lenet", "lenet_dynamo", "resnet_style"] {
            let source = "Fixtures/models/\(model).onnx"
            let r = try modeltool(["convert", source, out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)),
                           try Data(contentsOf: repositoryRoot.appendingPathComponent(source)), model)
        }
    }

    func testExternalDataThenBackInline() throws {
        let dir = try temporaryDirectory(self)
        let ext = dir.appendingPathComponent("ext.onnx").path
        let back = dir.appendingPathComponent("back.onnx").path
        XCTAssertEqual(try modeltool(["convert", "--external-data", "Fixtures/models/lenet.onnx", ext]).status, 0)
        let dataSize = try FileManager.default.attributesOfItem(atPath: ext + ".data")[.size] as? Int ?? 0
        XCTAssertGreaterThan(dataSize, 431_080 * 4, "weights moved out")
        XCTAssertEqual(try modeltool(["convert", "--inline", ext, back]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: back)),
                       try Data(contentsOf: repositoryRoot.appendingPathComponent("Fixtures/models/lenet.onnx")))
    }

    func testUnknownExtensionAsksForFormat() throws {
        let r = try modeltool(["convert", "Fixtures/models/lenet.onnx", "/tmp/out.bin"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("use --format"), r.stderr)
    }
}
