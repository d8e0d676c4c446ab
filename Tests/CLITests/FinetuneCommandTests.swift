import Foundation
import XCTest

/// `modeltool finetune` and `trim --train-data`, run as a user runs them.
final class FinetuneCommandTests: XCTestCase {
    private let images = "Fixtures/fashion-mnist/images.npy", labels = "Fixtures/fashion-mnist/labels.npy"
    private let scale = ["--scale", "0.00392156862745098"]

    private func json(_ r: RunResult, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
    }

    private func copy(_ name: String, to dir: URL, as target: String? = nil) throws -> String {
        let path = dir.appendingPathComponent(target ?? (name as NSString).lastPathComponent).path
        try FileManager.default.copyItem(atPath: repositoryRoot.appendingPathComponent(name).path, toPath: path)
        return path
    }

    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func testOneStepWritesNewWeightsWithTheSameGraph() throws {
        let dir = try temporaryDirectory(self)
        let model = try copy("Fixtures/models/lenet.onnx", to: dir)
        let out = dir.appendingPathComponent("tuned.onnx").path
        let r = try json(try modeltool(["finetune", model, "--data", images, "--labels", labels, "--limit", "64", "--epochs", "1",
                                        "--batch", "64", "--no-shuffle", "--optimizer", "sgd", "--lr", "0.05", "-o", out, "--json"] + scale))
        let epochs = r["epochs"] as? [[String: Any]] ?? []
        XCTAssertEqual(epochs.count, 1)
        let loss = epochs.first?["train_loss"] as? Double ?? -1
        XCTAssertGreaterThan(loss, 0.1)
        XCTAssertLessThan(loss, 3)
        XCTAssertEqual(r["kept_epoch"] as? Int, 1)
        XCTAssertEqual(r["trained_parameters"] as? Int, 431_080)
        XCTAssertNotEqual(try bytes(out), try bytes(model))
        // Same layers and sizes: only values changed.
        let before = try json(try modeltool(["info", "--json", model])), after = try json(try modeltool(["info", "--json", out]))
        XCTAssertEqual(before["totalParams"] as? Int, after["totalParams"] as? Int)
        XCTAssertEqual((before["layers"] as? [[String: Any]])?.map { $0["op"] as? String },
                       (after["layers"] as? [[String: Any]])?.map { $0["op"] as? String })
        // The retrained model still classifies (a small step from a trained model).
        let eval = try json(try modeltool(["eval", out, "--data", images, "--labels", labels, "--json"] + scale))
        XCTAssertGreaterThan(eval["top1"] as? Double ?? 0, 0.8)
    }

    func testSeedMakesRunsReproducibleAndValidationKeepsTheBestEpoch() throws {
        let dir = try temporaryDirectory(self)
        let model = try copy("Fixtures/models/lenet.onnx", to: dir)
        func run(_ seed: String, _ name: String) throws -> (String, [String: Any]) {
            let out = dir.appendingPathComponent(name).path
            let r = try json(try modeltool(["finetune", model, "--data", images, "--labels", labels, "--limit", "256", "--epochs", "3",
                                            "--batch", "32", "--seed", seed, "--augment", "crop=2,flip", "--threads", "1",
                                            "--optimizer", "adam", "--lr", "0.002", "--val-data", "Fixtures/fashion-mnist/images-idx3-ubyte.gz",
                                            "--val-labels", "Fixtures/fashion-mnist/labels-idx1-ubyte.gz", "--val-limit", "300",
                                            "-o", out, "--json"] + scale))
            return (out, r)
        }
        let (a, ra) = try run("7", "a.onnx"), (b, _) = try run("7", "b.onnx"), (c, _) = try run("8", "c.onnx")
        XCTAssertEqual(try bytes(a), try bytes(b), "the same seed at the same thread count gives the same file")
        XCTAssertNotEqual(try bytes(a), try bytes(c), "another seed shuffles and augments differently")
        let accuracies = (ra["epochs"] as? [[String: Any]] ?? []).map { $0["val_accuracy"] as? Double ?? -1 }
        XCTAssertEqual(accuracies.count, 3)
        let best = accuracies.indices.max { accuracies[$0] < accuracies[$1] || (accuracies[$0] == accuracies[$1] && $0 > $1) }!
        XCTAssertEqual(ra["kept_epoch"] as? Int, best + 1)
        // The kept file measures what its epoch measured.
        let eval = try json(try modeltool(["eval", a, "--data", "Fixtures/fashion-mnist/images-idx3-ubyte.gz",
                                           "--labels", "Fixtures/fashion-mnist/labels-idx1-ubyte.gz", "--limit", "300", "--json"] + scale))
        XCTAssertEqual(eval["top1"] as? Double ?? -1, accuracies[best], accuracy: 1e-9)
    }

    func testInPlaceWithBackupAndClearErrors() throws {
        let dir = try temporaryDirectory(self)
        let model = try copy("Fixtures/models/vgg_style.onnx", to: dir)
        let original = try bytes(model)
        let r = try modeltool(["finetune", model, "--data", images, "--labels", labels, "--limit", "32", "--batch", "16", "--backup"] + scale)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("train loss") && r.stdout.contains("kept epoch 1"), r.stdout)
        XCTAssertEqual(try bytes(model + ".bak"), original)
        XCTAssertNotEqual(try bytes(model), original)

        let mismatch = try modeltool(["finetune", model, "--data", images, "--labels", "Fixtures/fashion-mnist/labels100-idx1-ubyte"] + scale)
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.stderr.contains("labels100-idx1-ubyte"), mismatch.stderr)
        let augment = try modeltool(["finetune", model, "--data", images, "--labels", labels, "--augment", "rotate"])
        XCTAssertNotEqual(augment.status, 0)
        XCTAssertTrue(augment.stderr.contains("unknown augmentation 'rotate'"), augment.stderr)
        let val = try modeltool(["finetune", model, "--data", images, "--labels", labels, "--val-data", images])
        XCTAssertNotEqual(val.status, 0)
        XCTAssertTrue(val.stderr.contains("--val-data and --val-labels go together"), val.stderr)
    }

    func testTrimLoopShrinksRetrainsAndReportsThePaperTable() throws {
        let dir = try temporaryDirectory(self)
        let model = try copy("Fixtures/models/lenet.onnx", to: dir)
        let r = try json(try modeltool(["trim", model, "--data", images, "--labels", labels, "--limit", "300",
                                        "--layers", "/conv2/Conv,/fc1/Gemm", "--train-data", "Fixtures/fashion-mnist/train6k-images-idx3-ubyte.gz",
                                        "--train-labels", "Fixtures/fashion-mnist/train6k-labels-idx1-ubyte.gz", "--train-limit", "512",
                                        "--iterations", "2", "--finetune-epochs", "1", "--optimizer", "sgd", "--lr", "0.01",
                                        "--momentum", "0.9", "--json"] + scale))
        let iterations = r["iterations"] as? [[String: Any]] ?? []
        XCTAssertEqual(iterations.count, 2)
        XCTAssertEqual(r["keptIterations"] as? Int, 2)
        let params = iterations.map { $0["paramsAfter"] as? Int ?? 0 }
        XCTAssertLessThan(params[1], params[0])
        XCTAssertLessThan(params[0], 431_080)
        for row in iterations {
            let groups = row["groups"] as? [[String: Any]] ?? []
            XCTAssertEqual(Set(groups.compactMap { ($0["layers"] as? [String])?.first }), ["/conv2/Conv", "/fc1/Gemm"])
            XCTAssertEqual((row["epochs"] as? [Any])?.count, 1)
            XCTAssertNotNil(row["accuracyTrimmed"] as? Double)
        }
        XCTAssertEqual(r["paramsFinal"] as? Int, params[1])
        let info = try json(try modeltool(["info", "--json", model]))
        XCTAssertEqual(info["totalParams"] as? Int, params[1])
        let eval = try json(try modeltool(["eval", model, "--data", images, "--labels", labels, "--limit", "300", "--json"] + scale))
        XCTAssertEqual(eval["top1"] as? Double ?? -1, r["accuracyFinal"] as? Double ?? -2, accuracy: 1e-9)
    }

    /// --schedule-span loop: iteration 2 continues iteration 1's cosine instead of restarting it.
    func testScheduleSpanLoopRunsOneScheduleAcrossIterations() throws {
        let dir = try temporaryDirectory(self)
        let model = try copy("Fixtures/models/lenet.onnx", to: dir)
        let r = try json(try modeltool(["trim", model, "--data", images, "--labels", labels, "--limit", "200", "--layers", "/fc1/Gemm",
                                        "--train-data", images, "--train-labels", labels, "--train-limit", "128", "--iterations", "2",
                                        "--finetune-epochs", "1", "--train-batch", "64", "--schedule", "cosine", "--lr", "0.01",
                                        "--schedule-span", "loop", "--json", "-o", dir.appendingPathComponent("out.onnx").path] + scale))
        let rates = (r["iterations"] as? [[String: Any]] ?? []).map {
            (($0["epochs"] as? [[String: Any]])?.last?["learning_rate"] as? Double) ?? -1
        }
        // 2 steps per iteration, 4 in the loop: each iteration's last step is global step 1 and 3.
        XCTAssertEqual(rates.count, 2, "\(r)")
        XCTAssertEqual(rates.first ?? -1, 0.01 * 0.5 * (1 + cos(Double.pi / 4)), accuracy: 1e-7)
        XCTAssertEqual(rates.last ?? -1, 0.01 * 0.5 * (1 + cos(3 * Double.pi / 4)), accuracy: 1e-7)
        let refused = try modeltool(["trim", model, "--data", images, "--schedule-span", "loop"] + scale)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--schedule-span need --train-data"), refused.stderr)
    }

    func testAccuracyBudgetKeepsTheFileWhenTheFirstIterationBreaksIt() throws {
        let dir = try temporaryDirectory(self)
        let model = try copy("Fixtures/models/lenet.onnx", to: dir)
        let original = try bytes(model)
        // An absurd learning rate wrecks the retrained model: the budget stops the loop at once.
        let r = try json(try modeltool(["trim", model, "--data", images, "--labels", labels, "--limit", "200", "--layers", "/fc1/Gemm",
                                        "--train-data", images, "--train-labels", labels, "--train-limit", "128", "--iterations", "3",
                                        "--lr", "50", "--optimizer", "sgd", "--max-accuracy-drop", "1", "--json"] + scale))
        XCTAssertEqual(r["keptIterations"] as? Int, 0)
        XCTAssertEqual((r["iterations"] as? [[String: Any]])?.count, 1)
        XCTAssertEqual((r["iterations"] as? [[String: Any]])?.first?["withinBudget"] as? Bool, false)
        XCTAssertTrue((r["stopped"] as? String ?? "").contains("more than 1.00 points below"), "\(r)")
        XCTAssertEqual(try bytes(model), original)
    }
}

final class TrimFormatTests: XCTestCase {
    /// `-o` with another extension writes that format: a Keras model trimmed to .onnx reads back.
    func testTrimToAnotherFormatWritesThatFormat() throws {
        let dir = try temporaryDirectory(self)
        let source = dir.appendingPathComponent("k.h5").path
        try FileManager.default.copyItem(atPath: repositoryRoot.appendingPathComponent("Fixtures/keras/k2_sequential.h5").path,
                                         toPath: source)
        let out = dir.appendingPathComponent("k.onnx").path
        let r = try modeltool(["trim", source, "--data", "Fixtures/keras/k2_sequential.npz:x", "--layers", "all", "-o", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let head = try Data(contentsOf: URL(fileURLWithPath: out)).prefix(8)
        XCTAssertNotEqual(Array(head), [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], "not an HDF5 file")
        let info = try modeltool(["info", out])
        XCTAssertEqual(info.status, 0, info.stderr)
    }
}
