import Datasets
import Foundation
import XCTest

/// Class folders of images through every command: the bundled Fashion-MNIST PNG folder
/// (Tools/fashion-png-folder.py: the first 200 images of images.npy) against the same images
/// read from the array.
final class ImageFolderCommandTests: XCTestCase {
    let model = "Fixtures/models/lenet.onnx"
    let folder = "Fixtures/fashion-mnist/png200"
    let scale = ["--scale", "0.00392156862745098"]
    var folderOptions: [String] { ["--color", "gray", "--classes", folder + "/classes.txt"] + scale }

    private func json(_ r: RunResult, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], file: file, line: line)
    }

    /// eval labels the folder by its class folders: exactly the counts of the .npy evaluation.
    func testEvalOnTheFolderEqualsTheArrayEvaluation() throws {
        let fromFolder = try json(try modeltool(["eval", model, "--data", folder, "--json"] + folderOptions))
        let fromArray = try json(try modeltool(["eval", model, "--data", "Fixtures/fashion-mnist/images.npy", "--labels",
                                                "Fixtures/fashion-mnist/labels.npy", "--limit", "200", "--json"] + scale))
        XCTAssertEqual(fromFolder["samples"] as? Int, 200)
        for key in ["samples", "top1Correct", "topKCorrect"] {
            XCTAssertEqual(fromFolder[key] as? Int, fromArray[key] as? Int, key)
        }
        XCTAssertEqual(fromFolder["top1Correct"] as? Int, 175)
    }

    /// run gives the array's logits row for row, in the folder's order (class by class), up to
    /// rounding (BLAS may sum in another order for another batch: OpenBLAS's Haswell sgemm
    /// differs in the last bit); another row would differ by far more.
    func testRunOnTheFolderGivesTheArraysOutputsInFolderOrder() throws {
        let dir = try temporaryDirectory(self)
        let a = dir.appendingPathComponent("folder.npy").path, b = dir.appendingPathComponent("array.npy").path
        XCTAssertEqual(try modeltool(["run", model, "--input", folder, "-o", a] + folderOptions).status, 0)
        XCTAssertEqual(try modeltool(["run", model, "--input", "Fixtures/fashion-mnist/images.npy", "--limit", "200", "-o", b] + scale).status, 0)
        let labels = try openSource(path: "Fixtures/fashion-mnist/labels.npy").readLabels(start: 0, count: 200)
        let order = (0..<200).sorted { (labels[$0], $0) < (labels[$1], $1) }
        let folderRows = try rows(a), arrayRows = try rows(b)
        XCTAssertEqual(folderRows.count, 200)
        for (row, index) in order.enumerated() {
            XCTAssertEqual(folderRows[row].count, arrayRows[index].count, "row \(row)")
            let largest = arrayRows[index].map(abs).max() ?? 0
            for (x, y) in zip(folderRows[row], arrayRows[index]) { XCTAssertEqual(x, y, accuracy: 1e-6 * max(1, largest), "row \(row)") }
        }
    }

    private func rows(_ path: String) throws -> [[Float]] {
        let source = try openSource(path: path)
        var values = [Float](repeating: 0, count: source.count * source.sampleElementCount)
        try values.withUnsafeMutableBufferPointer { try source.read(start: 0, count: source.count, into: $0.baseAddress!) }
        return stride(from: 0, to: values.count, by: source.sampleElementCount).map { Array(values[$0..<($0 + source.sampleElementCount)]) }
    }

    /// apoz, trim (dry run, with accuracy from the folder) and finetune take --data DIR without --labels.
    func testApozTrimAndFinetuneTakeAFolder() throws {
        let dir = try temporaryDirectory(self)
        let stats = dir.appendingPathComponent("stats.json").path
        var r = try modeltool(["apoz", model, "--data", folder, "-o", stats] + folderOptions)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("200 samples"), r.stdout)
        r = try modeltool(["trim", model, "--data", folder, "--dry-run"] + folderOptions)
        XCTAssertEqual(r.status, 0, r.stderr)
        let copy = dir.appendingPathComponent("lenet.onnx").path
        try FileManager.default.copyItem(atPath: model, toPath: copy)
        let tuned = try json(try modeltool(["finetune", copy, "--data", folder, "--epochs", "1", "--batch", "100", "--lr", "0.01",
                                            "--val-data", folder, "--json"] + folderOptions))
        XCTAssertEqual(tuned["samples"] as? Int, 200)
    }

    func testErrorsAreOneLine() throws {
        let dir = try temporaryDirectory(self)
        // Without a labels file, an array has no labels.
        var r = try modeltool(["eval", model, "--data", "Fixtures/fashion-mnist/images.npy"] + scale)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("carries no labels"), r.stderr)
        // RGB samples do not fit a one-channel model.
        r = try modeltool(["eval", model, "--data", folder])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("samples have shape [3,28,28] but the model's input"), r.stderr)
        // A class folder without images.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data/a"), withIntermediateDirectories: true)
        r = try modeltool(["eval", model, "--data", dir.appendingPathComponent("data").path])
        XCTAssertEqual(r.stderr, "modeltool: \(dir.path)/data/a: class folder has no .jpg, .jpeg or .png images\n")
        r = try modeltool(["eval", model, "--data", folder, "--resize", "0x3"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--resize takes N (the shorter side) or HxW"), r.stderr)
    }

    /// --preset keras-tf maps 0...255 to [-1, 1]; --resize/--crop change the sample shape.
    func testPresetAndResizeReachTheModel() throws {
        let dir = try temporaryDirectory(self)
        let out = dir.appendingPathComponent("x.npy").path
        // The LeNet wants 28×28: a 32×32 resize then a centre crop of 28 fits it.
        let r = try modeltool(["run", model, "--input", folder, "--limit", "3", "--color", "gray", "--preset", "keras-tf",
                               "--resize", "32", "--crop", "28", "--interpolation", "bicubic", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}

extension ImageFolderCommandTests {
    /// resized-crop trains on an image folder and is refused for arrays.
    func testResizedCropAugmentation() throws {
        let dir = try temporaryDirectory(self)
        let copy = dir.appendingPathComponent("lenet.onnx").path
        try FileManager.default.copyItem(atPath: model, toPath: copy)
        let tuned = try json(try modeltool(["finetune", copy, "--data", folder, "--epochs", "1", "--batch", "50",
                                            "--augment", "resized-crop,flip", "--json"] + folderOptions))
        XCTAssertEqual(tuned["samples"] as? Int, 200)
        let r = try modeltool(["finetune", copy, "--data", "Fixtures/fashion-mnist/images.npy", "--labels",
                               "Fixtures/fashion-mnist/labels.npy", "--limit", "10", "--augment", "resized-crop"] + scale)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("resized-crop augmentation needs an image folder"), r.stderr)
    }
}
