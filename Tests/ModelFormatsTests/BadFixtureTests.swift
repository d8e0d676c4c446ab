import Foundation
import ModelIR
import XCTest

@testable import ModelFormats

/// Every file in Fixtures/bad is refused with the expected one-line message.
final class BadFixtureTests: XCTestCase {
    private let expected: [String: String] = [
        "absurd_dims.onnx": "absurd dimensions",
        "cycle.onnx": "cycle",
        "deep_nesting.onnx": "nested deeper than 100 levels",
        "duplicate_output.onnx": "defined twice",
        "empty.onnx": "empty",
        "huge_length.onnx": "malformed or truncated",
        "missing_graph_output.onnx": "graph output 'Z' is not produced",
        "negative_dims.onnx": "negative dimension -3",
        "raw_data_size_mismatch.onnx": "holds 12 bytes but float32[4, 4] needs 64",
        "truncated.onnx": "malformed or truncated",
        "typed_data_count_mismatch.onnx": "holds 8 bytes but float32[3] needs 12",
        "undefined_value.onnx": "uses undefined value 'ghost'",
        "unknown_data_type.onnx": "unknown data type 999",
        "not_protobuf.png": "malformed or truncated",
        "not_protobuf.txt": "protobuf",  // its bytes happen to start like a group field
        "external/absolute_path.onnx": "is an absolute path",
        "external/bad_offset.onnx": "bad external data offset",
        "external/length_mismatch.onnx": "length 16 but its dims need 12",
        "external/missing_file.onnx": "not found",
        "external/parent_dir.onnx": "leaves the model's folder",
        "external/past_end.onnx": "runs past the end",
        "external/symlink.onnx": "resolves outside the model's folder",
    ]

    func testEveryBadFixtureIsRefusedClearly() throws {
        let dir = repositoryRoot.appendingPathComponent("Fixtures/bad")
        var files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".onnx") || $0.hasPrefix("not_protobuf") }
        files += try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("external").path)
            .filter { $0.hasSuffix(".onnx") }.map { "external/" + $0 }
        XCTAssertEqual(Set(files), Set(expected.keys), "every bad fixture has an expected error")
        for name in files.sorted() {
            let path = dir.appendingPathComponent(name).path
            XCTAssertThrowsError(try ONNXReader.read(path: path), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(path + ": "), "\(name): \(message)")
                XCTAssertTrue(message.contains(expected[name] ?? "?"), "\(name): \(message)")
                XCTAssertFalse(message.contains("\n"), "\(name): \(message)")
            }
        }
    }

    func testGroupEncodedUnknownFieldIsRefusedByName() {
        let path = repositoryRoot.appendingPathComponent("Fixtures/roundtrip/unknown_group.onnx").path
        XCTAssertThrowsError(try ONNXReader.read(path: path)) { error in
            XCTAssertTrue("\(error)".contains("deprecated protobuf group encoding"), "\(error)")
        }
    }

    /// Round-trip fixtures (made with the onnx helper API) re-serialise to the same bytes where
    /// onnx itself does (the README lists them), and re-serialising is always idempotent. (The
    /// external-data fixture is checked through ModelProto equality in Tools/roundtrip-check.py.)
    func testRoundTripFixtures() throws {
        let dir = repositoryRoot.appendingPathComponent("Fixtures/roundtrip")
        let byteStable = ["attributes.onnx", "control_flow.onnx", "functions.onnx", "metadata_docs.onnx",
                          "multi_device.onnx", "sparse_quant.onnx", "tensor_storage.onnx", "training_info.onnx",
                          "unknown_fields.onnx"]
        for name in byteStable + ["noncanonical_encoding.onnx"] {
            let path = dir.appendingPathComponent(name).path
            let model = try ONNXReader.read(path: path)
            let bytes = try ONNXWriter.serialize(model)
            if byteStable.contains(name) {
                XCTAssertEqual(bytes, try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), name)
            }
            XCTAssertEqual(try ONNXWriter.serialize(try ONNXReader.read(bytes: bytes, modelPath: path)), bytes, name)
        }
    }
}
