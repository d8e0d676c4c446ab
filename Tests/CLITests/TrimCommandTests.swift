import Foundation
import XCTest

final class TrimCommandTests: XCTestCase {
    private let data = ["--scale", "0.00392156862745098", "--limit", "300"]

    private func json(_ r: RunResult) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
    }

    private func copyOfLeNet(in dir: URL, name: String = "lenet.onnx") throws -> String {
        let path = dir.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: repositoryRoot.appendingPathComponent("Fixtures/models/lenet.onnx").path,
                                         toPath: path)
        return path
    }

    /// The channels trim removes are those an independent computation of the paper's rule
    /// (APoZ > mean + 1 std of the layer, APoZ = zeros / positions) finds in the same statistics.
    func testRemovedChannelsFollowThePaperCriterion() throws {
        let dir = try temporaryDirectory(self)
        let model = try copyOfLeNet(in: dir)
        let stats = dir.appendingPathComponent("stats.json").path
        let collect = try modeltool(["apoz", model, "--data", "Fixtures/fashion-mnist/images.npy", "-o", stats] + data)
        XCTAssertEqual(collect.status, 0, collect.stderr)
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stats))) as? [String: Any]
        var expected: [String: [Int]] = [:]
        for t in file?["tensors"] as? [[String: Any]] ?? [] {
            let zeros = (t["zeros"] as? [NSNumber] ?? []).map(\.doubleValue)
            let positions = (t["positions"] as? [NSNumber] ?? []).map(\.doubleValue)
            let apoz = zip(zeros, positions).map { $0 / $1 }
            let mean = apoz.reduce(0, +) / Double(apoz.count)
            let std = (apoz.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(apoz.count)).squareRoot()
            let producer = ((t["producers"] as? [[String: Any]])?.first?["name"] as? String) ?? ""
            expected[producer] = apoz.indices.filter { apoz[$0] > mean + std }
        }
        let out = try json(try modeltool(["trim", model, "--stats", stats, "--layers", "/conv2/Conv,/fc1/Gemm", "--json"]))
        let groups = out["groups"] as? [[String: Any]] ?? []
        for layer in ["/conv2/Conv", "/fc1/Gemm"] {
            let g = groups.first { ($0["layers"] as? [String]) == [layer] }
            let removed = g?["removed"] as? [Int]
            XCTAssertEqual(removed, expected[layer], layer)
            XCTAssertFalse(removed?.isEmpty ?? true, "\(layer): the paper's rule removes something on this data")
            XCTAssertEqual(g?["channelsAfter"] as? Int, (g?["channelsBefore"] as? Int ?? 0) - (removed?.count ?? 0))
        }
        XCTAssertLessThan(out["paramsAfter"] as? Int ?? .max, 431_080)
        // The file was rewritten in place and its widths agree with the report.
        let info = try json(try modeltool(["info", "--json", model]))
        XCTAssertEqual(info["totalParams"] as? Int, out["paramsAfter"] as? Int)
    }

    func testDryRunWritesNothingAndBackupKeepsTheOriginal() throws {
        let dir = try temporaryDirectory(self)
        let model = try copyOfLeNet(in: dir)
        let original = try Data(contentsOf: URL(fileURLWithPath: model))
        let dry = try json(try modeltool(["trim", model, "--data", "Fixtures/fashion-mnist/images.npy", "--dry-run", "--json"] + data))
        XCTAssertNil(dry["written"] as? String)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), original)

        let trimmed = try json(try modeltool(["trim", model, "--data", "Fixtures/fashion-mnist/images.npy", "--backup",
                                              "--labels", "Fixtures/fashion-mnist/labels.npy", "--json"] + data))
        XCTAssertEqual(trimmed["written"] as? String, model)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model + ".bak")), original)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: model)), original)
        XCTAssertNotNil(trimmed["accuracyBefore"] as? Double)
        XCTAssertNotNil(trimmed["accuracyAfter"] as? Double)
        XCTAssertNotNil(trimmed["maxDeviation"] as? Double)
    }

    func testStatisticsOfAnotherModelAreRefused() throws {
        let dir = try temporaryDirectory(self)
        let model = try copyOfLeNet(in: dir)
        let stats = dir.appendingPathComponent("stats.json").path
        XCTAssertEqual(try modeltool(["apoz", model, "--data", "Fixtures/fashion-mnist/images.npy", "-o", stats] + data).status, 0)
        let other = dir.appendingPathComponent("vgg.onnx").path
        try FileManager.default.copyItem(atPath: repositoryRoot.appendingPathComponent("Fixtures/models/vgg_style.onnx").path,
                                         toPath: other)
        let r = try modeltool(["trim", other, "--stats", stats])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("different model"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
    }

    func testOutputElsewhereLeavesTheModel() throws {
        let dir = try temporaryDirectory(self)
        let model = try copyOfLeNet(in: dir)
        let original = try Data(contentsOf: URL(fileURLWithPath: model))
        let out = dir.appendingPathComponent("small.onnx").path
        let r = try json(try modeltool(["trim", model, "--data", "Fixtures/fashion-mnist/images.npy", "-o", out,
                                        "--ratio", "0.5", "--layers", "all", "--json"] + data))
        XCTAssertEqual(r["written"] as? String, out)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), original)
        XCTAssertLessThan(r["paramsAfter"] as? Int ?? .max, (r["paramsBefore"] as? Int ?? 0) / 2)
        XCTAssertEqual(try modeltool(["info", out]).status, 0)
    }
}

extension TrimCommandTests {
    /// A Keras .h5 is trimmed in place as .h5: the rewritten file reads back with fewer parameters
    /// (tf_keras loading it is checked by Tools/keras/writer_check.py for the writer it uses).
    func testKerasH5IsTrimmedInPlace() throws {
        let dir = try temporaryDirectory(self)
        let model = dir.appendingPathComponent("k2.h5").path
        try FileManager.default.copyItem(atPath: repositoryRoot.appendingPathComponent("Fixtures/keras/k2_functional.h5").path,
                                         toPath: model)
        let r = try modeltool(["trim", model, "--data", "Fixtures/keras/k2_functional.npz:x", "--layers", "all",
                               "--ratio", "0.25", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(out?["written"] as? String, model)
        let info = try modeltool(["info", "--json", model])
        XCTAssertEqual(info.status, 0, info.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["totalParams"] as? Int, out?["paramsAfter"] as? Int)
        XCTAssertLessThan(object?["totalParams"] as? Int ?? .max, 501)
    }
}
