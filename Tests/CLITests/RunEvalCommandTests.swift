import Datasets
import Foundation
import XCTest

final class RunEvalCommandTests: XCTestCase {
    /// Reads a whole float array from .npy/.npz through the Datasets readers.
    private func load(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let source = try openSource(path: path)
        var values = [Float](repeating: 0, count: source.count * source.sampleElementCount)
        try values.withUnsafeMutableBufferPointer { try source.read(start: 0, count: source.count, into: $0.baseAddress!) }
        return ([source.count] + source.sampleShape, values)
    }

    /// `run` reproduces onnxruntime's logits (saved by Tools/fixtures when the fixtures were made)
    /// for every bundled model, to 1e-4 relative, written as .npy or (every other model) .npz.
    func testRunMatchesOnnxRuntimeOutputs() throws {
        let dir = try temporaryDirectory(self)
        for (k, model) in ["lenet", "lenet_dynamo", "vgg_style", "resnet_style", "mobilenet_style", "inception_style"].enumerated() {
            let expected = "Fixtures/models/expected/\(model).npz"
            guard FileManager.default.fileExists(atPath: repositoryRoot.appendingPathComponent(expected).path) else { continue }
            let out = dir.appendingPathComponent(k % 2 == 0 ? "\(model).npy" : "\(model).npz").path
            let r = try modeltool(["run", "Fixtures/models/\(model).onnx", "--input", expected + ":input", "-o", out])
            XCTAssertEqual(r.status, 0, "\(model): \(r.stderr)")
            let ours = try load(k % 2 == 0 ? out : out + ":logits")
            let reference = try load(repositoryRoot.appendingPathComponent(expected).path + ":logits")
            XCTAssertEqual(ours.shape, reference.shape, model)
            for (a, b) in zip(ours.values, reference.values) {
                XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), model)
            }
        }
    }

    /// onnxruntime classifies 879 of the 1000 bundled Fashion-MNIST images correctly with LeNet
    /// (Tools/fixtures records it); eval must count the same, from IDX files as from .npy.
    func testEvalReproducesOnnxRuntimeAccuracy() throws {
        let r = try modeltool(["eval", "Fixtures/models/lenet.onnx", "--data", "Fixtures/fashion-mnist/images.npy",
                               "--labels", "Fixtures/fashion-mnist/labels.npy", "--scale", "0.00392156862745098", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["samples"] as? Int, 1000)
        XCTAssertEqual(object?["top1Correct"] as? Int, 879)
        let idx = try modeltool(["eval", "Fixtures/models/lenet.onnx", "--data", "Fixtures/fashion-mnist/images-idx3-ubyte.gz",
                                 "--labels", "Fixtures/fashion-mnist/labels-idx1-ubyte.gz", "--scale", "0.00392156862745098",
                                 "--limit", "1000", "--batch", "100", "--json"])
        XCTAssertEqual(idx.status, 0, idx.stderr)
        let idxObject = try JSONSerialization.jsonObject(with: Data(idx.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(idxObject?["top1Correct"] as? Int, 879)
        XCTAssertEqual(r.stderr, "", "no progress bar when stderr is not a terminal")
    }

    func testShapeMismatchIsOneLine() throws {
        let r = try modeltool(["eval", "Fixtures/models/lenet.onnx", "--data", "Fixtures/models/expected/lenet.npz:logits",
                               "--labels", "Fixtures/fashion-mnist/labels.npy"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("modeltool: Fixtures/models/expected/lenet.npz:logits: "), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
    }
}
