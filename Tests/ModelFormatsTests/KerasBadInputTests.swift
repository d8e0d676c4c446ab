import Foundation
import ModelIR
import XCTest

@testable import ModelFormats

/// Damaged and foreign files give one-line errors naming the file, never a crash.
final class KerasBadInputTests: XCTestCase {
    private func message(_ path: String, config: String? = nil) -> String? {
        do {
            _ = try KerasReader.read(path: path, configPath: config)
            return nil
        } catch let e as ModelError {
            XCTAssertFalse(e.message.contains("\n"), "multi-line error: \(e.message)")
            return e.message
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    func testTruncatedFile() {
        let m = message(kerasFixture("bad/truncated.h5"))
        XCTAssertEqual(m?.hasPrefix(kerasFixture("bad/truncated.h5")), true, m ?? "no error")
    }

    func testMissingDataset() {
        let m = message(kerasFixture("bad/missing_dataset.h5")) ?? ""
        XCTAssertTrue(m.contains("conv_b/kernel:0") && m.contains("missing"), m)
    }

    func testWeightShapeDisagreesWithConfig() {
        let m = message(kerasFixture("bad/shape_mismatch.h5")) ?? ""
        XCTAssertTrue(m.contains("conv_a") && m.contains("[3, 3, 3, 8]") && m.contains("[3,3,3,9]"), m)
    }

    func testNonKerasHDF5AndNonHDF5() throws {
        XCTAssertTrue((message(kerasFixture("bad/not_keras.h5")) ?? "").contains("not a Keras model file"))
        XCTAssertTrue((message(kerasFixture("README.md")) ?? "").contains("not an HDF5 file"))
        XCTAssertTrue((message(kerasFixture("no_such_file.h5")) ?? "").contains("cannot be opened"))
    }

    /// Every truncation point of a real file: an error or (past the data) success, never a crash.
    func testManyTruncations() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: kerasFixture("k2_functional.h5")))
        let dir = try temporaryDirectory(self)
        for cut in stride(from: 0, to: data.count, by: data.count / 23) {
            let file = dir.appendingPathComponent("cut\(cut).h5")
            try data.prefix(cut).write(to: file)
            XCTAssertNotNil(message(file.path), "truncated at \(cut) of \(data.count) bytes was read")
        }
    }

    /// Unsupported layers, custom classes and Lambda are listed together in one error.
    func testUnsupportedLayersAreListedAtOnce() throws {
        let root = try H5Group.open(file: kerasFixture("k2_sequential.h5"))
        var config = try XCTUnwrap(root.string(attribute: "model_config"))
        config = config.replacingOccurrences(of: "\"class_name\": \"Dropout\"", with: "\"class_name\": \"Lambda\"")
        config = config.replacingOccurrences(of: "\"class_name\": \"ReLU\"", with: "\"class_name\": \"MyCustomLayer\"")
        let file = try temporaryDirectory(self).appendingPathComponent("model.json")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let m = message(kerasFixture("k2_sequential.h5"), config: file.path) ?? ""
        XCTAssertTrue(m.contains("drop (Lambda)") && m.contains("relu6 (MyCustomLayer)"), m)
    }

    func testSubclassedModelConfigIsRefused() throws {
        let file = try temporaryDirectory(self).appendingPathComponent("model.json")
        try #"{"class_name": "MyModel", "config": {}}"#.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertTrue((message(kerasFixture("k2_weights_only.h5"), config: file.path) ?? "").contains("MyModel"))
    }
}
