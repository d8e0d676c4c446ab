import ModelIR
import ModelPipeline
import XCTest

final class ModelFileTests: XCTestCase {
    func testFormatComesFromTheExtensionUnlessOverridden() throws {
        XCTAssertEqual(ModelFormat(path: "a/b.ONNX"), .onnx)
        XCTAssertEqual(ModelFormat(path: "m.hdf5"), .h5)
        XCTAssertEqual(ModelFormat(path: "m.h5"), .h5)
        XCTAssertEqual(ModelFormat(path: "m.keras"), .keras)
        XCTAssertNil(ModelFormat(path: "m.pb"))
        XCTAssertEqual(try ModelFormat.of("m.pb", override: .onnx), .onnx)
        XCTAssertThrowsError(try ModelFormat.of("m.pb")) { error in
            XCTAssertEqual((error as? ModelError)?.message,
                           "m.pb: cannot tell the format from the extension; use --format (onnx, h5, keras)")
        }
    }

    /// ONNX round trips losslessly: the fingerprint (graph and weights) is unchanged.
    func testONNXRoundTripKeepsTheFingerprint() throws {
        let model = try ModelFile.open(lenet)
        let copy = try temporaryDirectory(self).appendingPathComponent("copy.onnx").path
        XCTAssertEqual(try ModelFile.save(model, to: copy), [])
        XCTAssertEqual(ModelFingerprint.of(try ModelFile.open(copy)), ModelFingerprint.of(model))
    }

    /// Keras files come back with the same operators and weights (the writer names nodes its own way).
    func testKerasRoundTripByFormat() throws {
        let dir = try temporaryDirectory(self)
        for source in ["Fixtures/keras/k3_functional.h5", "Fixtures/keras/k3_conv1d.keras"] {
            let model = try ModelFile.open(fixture(source))
            let copy = dir.appendingPathComponent("copy-" + URL(fileURLWithPath: source).lastPathComponent).path
            XCTAssertEqual(try ModelFile.save(model, to: copy), [], source)
            let reread = try ModelFile.open(copy)
            XCTAssertEqual(reread.graph.nodes.map(\.opType), model.graph.nodes.map(\.opType), source)
            func weights(_ m: Model) throws -> [Float] {
                try m.graph.initializers.filter { $0.dataType == .float }.flatMap { try $0.floats() }.sorted()
            }
            XCTAssertEqual(try weights(reread), try weights(model), source)
        }
    }

    func testBackupOfAnONNXModelIsAFileOfItsOwn() throws {
        let path = try copyOfLeNet(self)
        let model = try ModelFile.open(path)
        try ModelFile.backUp(model, readFrom: path, format: .onnx)
        XCTAssertEqual(ModelFingerprint.of(try ModelFile.open(path + ".bak", format: .onnx)), ModelFingerprint.of(model))
    }
}
