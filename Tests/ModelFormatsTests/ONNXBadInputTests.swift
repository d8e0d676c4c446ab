import Foundation
import ModelIR
import XCTest

@testable import ModelFormats

/// Malformed and hostile files give one-line errors naming the file, never a crash.
final class ONNXBadInputTests: XCTestCase {
    private func write(_ bytes: [UInt8], _ name: String = "m.onnx") throws -> String {
        let path = try temporaryDirectory(self).appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func assertError(_ path: String, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ONNXReader.read(path: path), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(path + ": "), "no file name in: \(message)", file: file, line: line)
            XCTAssertTrue(message.contains(text), "expected '\(text)' in: \(message)", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "not one line: \(message)", file: file, line: line)
        }
    }

    func testNotAProtobuf() throws {
        let png: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]
        assertError(try write(png), contains: "not a valid ONNX protobuf")
        assertError(try write(Array("hello, this is text\n".utf8)), contains: "not")
        assertError(try write([]), contains: "empty")
    }

    func testTruncatedFile() throws {
        let bytes = try ONNXWriter.serialize(smallModel())
        for cut in [bytes.count / 2, bytes.count - 3, 5] {
            assertError(try write(Array(bytes.prefix(cut))), contains: "not")
        }
    }

    func testUndefinedValueAndCycle() throws {
        var model = smallModel()
        model.graph.nodes[1].inputs = ["nowhere"]
        assertError(try write(try ONNXWriter.serialize(model)), contains: "uses undefined value 'nowhere'")

        model = smallModel()
        model.graph.nodes[0].inputs = ["x", "y"]  // Add reads Relu's output, which reads Add's
        assertError(try write(try ONNXWriter.serialize(model)), contains: "cycle")
    }

    func testBadDimsAndSizes() throws {
        func model(with tensor: Tensor) -> Model {
            var m = smallModel()
            m.graph.initializers = [tensor]
            return m
        }
        let negative = Tensor(name: "w", dataType: .float, dims: [-2, 3], storage: .bytes(TensorBytes(zeroed: 24)))
        assertError(try write(try ONNXWriter.serialize(model(with: negative))), contains: "negative dimension")
        let absurd = Tensor(name: "w", dataType: .float, dims: [1 << 40, 1 << 40], storage: .bytes(TensorBytes(zeroed: 8)))
        assertError(try write(try ONNXWriter.serialize(model(with: absurd))), contains: "absurd dimensions")
        let short = Tensor(name: "w", dataType: .float, dims: [2, 3], storage: .bytes(TensorBytes(zeroed: 20)))
        assertError(try write(try ONNXWriter.serialize(model(with: short))), contains: "holds 20 bytes but float32[2, 3] needs 24")
        var badShape = smallModel()
        // -2, not -1: paddle2onnx's -1 reads as an unknown dimension (ONNXDynamicDimTests).
        badShape.graph.inputs[0] = ValueInfo(name: "x", tensor: TensorType(.float, Shape(fixed: [-2, 3])))
        assertError(try write(try ONNXWriter.serialize(badShape)), contains: "negative dimension")
    }

    /// A model whose initializer points at `location`, written into `dir`.
    private func externalModel(in dir: URL, location: String, offset: Int = 0, length: Int = 24) throws -> String {
        let encoder = ONNXEncoder()
        encoder.externalize = { _ in (location, offset, length) }
        let root = try encoder.model(smallModel())
        let path = dir.appendingPathComponent("m.onnx").path
        try Data(packMessage(root)).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testExternalDataConfinedToTheModelFolder() throws {
        let root = try temporaryDirectory(self)
        let dir = root.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let outside = root.appendingPathComponent("outside.bin")
        try Data(count: 64).write(to: outside)

        assertError(try externalModel(in: dir, location: "../outside.bin"), contains: "leaves the model's folder")
        assertError(try externalModel(in: dir, location: outside.path), contains: "absolute path")
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link.bin").path,
                                                   withDestinationPath: outside.path)
        assertError(try externalModel(in: dir, location: "link.bin"), contains: "resolves outside the model's folder")
        try Data(count: 30).write(to: dir.appendingPathComponent("w.bin"))
        assertError(try externalModel(in: dir, location: "w.bin", offset: 16), contains: "runs past the end")
        assertError(try externalModel(in: dir, location: "w.bin", length: 20), contains: "length 20")
        assertError(try externalModel(in: dir, location: "missing.bin"), contains: "not found")
        // The same file at a valid range reads fine.
        XCTAssertNoThrow(try ONNXReader.read(path: try externalModel(in: dir, location: "w.bin", offset: 4)))
    }
}
