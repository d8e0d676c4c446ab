import Datasets
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

final class ApozCommandTests: XCTestCase {
    let model = "Fixtures/models/lenet_dynamo.onnx"
    let data = "Fixtures/fashion-mnist/images.npy"
    let scale = "0.00392156862745098"

    private func json(_ path: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        return try XCTUnwrap(object as? [String: Any])
    }

    private func tensors(_ stats: [String: Any]) throws -> [[String: Any]] {
        try XCTUnwrap(stats["tensors"] as? [[String: Any]])
    }

    /// Three shards of 91 samples (the last takes the remainder), merged, equal one full run.
    func testMergedShardsEqualOneFullRunCountForCount() throws {
        let dir = try temporaryDirectory(self)
        let full = dir.appendingPathComponent("full.json").path
        var r = try modeltool(["apoz", model, "--data", data, "--scale", scale, "--limit", "91", "--batch", "16", "-o", full])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("91 samples, 3 observed tensors -> \(full)"), r.stdout)
        // MACs are counted for the shape the data has.
        XCTAssertTrue(r.stdout.contains("\nMACs per sample: 2,338,170 (inputs input=1,1,28,28)\n"), r.stdout)
        var shards: [String] = []
        for i in 0..<3 {
            let path = dir.appendingPathComponent("shard\(i).json").path
            r = try modeltool(["apoz", model, "--data", data, "--scale", scale, "--limit", "91", "--batch", "7",
                               "--shard", "\(i)/3", "-o", path])
            XCTAssertEqual(r.status, 0, r.stderr)
            shards.append(path)
        }
        let merged = dir.appendingPathComponent("merged.json").path
        r = try modeltool(["apoz", "merge"] + shards.reversed() + ["-o", merged])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "3 file(s), 91 samples, 3 observed tensors -> \(merged)\n")
        let a = try json(full), b = try json(merged)
        XCTAssertEqual(a["fingerprint"] as? String, b["fingerprint"] as? String)
        XCTAssertEqual(b["samples"] as? Int, 91)
        XCTAssertEqual((b["runs"] as? [Any])?.count, 3)
        let ta = try tensors(a), tb = try tensors(b)
        XCTAssertEqual(ta.count, 3)
        for (x, y) in zip(ta, tb) {
            XCTAssertEqual(x["tensor"] as? String, y["tensor"] as? String)
            for key in ["zeros", "positions", "nonFinite"] {
                // NSNumber arrays compare exactly as integers.
                XCTAssertEqual(x[key] as? [UInt64], y[key] as? [UInt64], key)
                XCTAssertNotNil(x[key] as? [UInt64], key)
            }
            // Sums agree to float rounding only: the GEMMs round differently for batches of 16 and
            // of 7 samples, so activations differ in their last bits (never across zero here).
            let sa = try XCTUnwrap(x["sums"] as? [Double]), sb = try XCTUnwrap(y["sums"] as? [Double])
            for (p, q) in zip(sa, sb) { XCTAssertEqual(p, q, accuracy: 1e-5 * max(1, abs(p))) }
        }
        XCTAssertEqual((ta[0]["positions"] as? [UInt64])?.first, 91 * 24 * 24)
        XCTAssertEqual((ta[0]["producers"] as? [[String: String]])?.first?["op"], "Conv")
        // Merging a shard twice would double its counts.
        r = try modeltool(["apoz", "merge", shards[0], shards[0], "-o", dir.appendingPathComponent("twice.json").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("each shard must be merged once"), r.stderr)
    }

    func testInfoShowsApozTableJSONAndPlot() throws {
        let dir = try temporaryDirectory(self)
        let stats = dir.appendingPathComponent("s.json").path
        XCTAssertEqual(try modeltool(["apoz", model, "--data", data, "--scale", scale, "--limit", "40", "-o", stats]).status, 0)
        let svg = dir.appendingPathComponent("apoz.svg").path
        var r = try modeltool(["info", model, "--apoz", stats, "--plot", svg])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("  APoZ        40 samples from \(stats)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("observed tensor"), r.stdout)
        XCTAssertTrue(r.stdout.contains(">mean+std"), r.stdout)
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(picture.hasPrefix("<?xml"))
        XCTAssertTrue(picture.hasSuffix("</svg>\n"))
        XCTAssertEqual(picture.components(separatedBy: "APoZ (% of zero activations)").count - 1, 3)
        XCTAssertNotNil(try? XMLDocument(data: Data(picture.utf8)), "the SVG is well-formed XML")

        r = try modeltool(["info", model, "--apoz", stats, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let apoz = try XCTUnwrap(object["apoz"] as? [String: Any])
        let layers = try XCTUnwrap(apoz["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.count, 3)
        let summary = try XCTUnwrap(layers[0]["summary"] as? [String: Any])
        let perChannel = try XCTUnwrap(layers[0]["apoz"] as? [Double])
        XCTAssertEqual(perChannel.count, layers[0]["channels"] as? Int)
        XCTAssertEqual(summary["max"] as? Double, perChannel.max())
        XCTAssertEqual(summary["min"] as? Double, perChannel.min())

        r = try modeltool(["info", model, "--apoz", stats, "--channels"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("act. mean"), r.stdout)
    }

    func testInfoCollectsWithData() throws {
        let r = try modeltool(["info", model, "--data", data, "--scale", scale, "--limit", "20", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((object["apoz"] as? [String: Any])?["samples"] as? Int, 20)
        XCTAssertEqual(object["macsBatch"] as? Int, 1)
    }

    func testStatisticsOfAnotherModelAreRefused() throws {
        let dir = try temporaryDirectory(self)
        let lenet = dir.appendingPathComponent("lenet.json").path, vgg = dir.appendingPathComponent("vgg.json").path
        XCTAssertEqual(try modeltool(["apoz", model, "--data", data, "--limit", "8", "-o", lenet]).status, 0)
        XCTAssertEqual(try modeltool(["apoz", "Fixtures/models/vgg_style.onnx", "--data", data, "--limit", "8", "--shard", "1/2", "-o", vgg]).status, 0)
        var r = try modeltool(["apoz", "merge", lenet, vgg, "-o", dir.appendingPathComponent("m.json").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("modeltool: \(vgg) was collected on a different model than \(lenet)"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("m.json").path))
        r = try modeltool(["info", "Fixtures/models/vgg_style.onnx", "--apoz", lenet])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("was collected on a different model"), r.stderr)
        // The same model observed on other tensors.
        let other = dir.appendingPathComponent("other.json").path
        XCTAssertEqual(try modeltool(["apoz", model, "--data", data, "--limit", "16", "--shard", "1/2", "--observe", "relu", "-o", other]).status, 0)
        r = try modeltool(["apoz", "merge", lenet, other, "-o", dir.appendingPathComponent("m.json").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("observes tensors [relu] but"), r.stderr)
    }

    func testEmptySelectionAndUnknownTensorsAreErrors() throws {
        let dir = try temporaryDirectory(self)
        let out = dir.appendingPathComponent("s.json").path
        var r = try modeltool(["apoz", model, "--data", data, "--limit", "1", "--shard", "0/2", "-o", out])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "modeltool: \(data): the data set selection (--limit/--shard) holds no samples of its 1000; APoZ needs at least one example\n")
        r = try modeltool(["apoz", model, "--data", data, "--observe", "nope", "-o", out])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "modeltool: --observe: no node produces 'nope' (graph inputs and initializers cannot be observed)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        r = try modeltool(["apoz", model, "--data", data, "--shard", "3/3", "-o", out])
        XCTAssertEqual(r.status, 64)
        r = try modeltool(["apoz", "merge", dir.appendingPathComponent("missing.json").path, "-o", out])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("modeltool: \(dir.appendingPathComponent("missing.json").path): cannot read"), r.stderr)
    }

    func testNaNInputsAreCountedAndReported() throws {
        let dir = try temporaryDirectory(self)
        let input = dir.appendingPathComponent("nan.npy").path
        var values = [Float](repeating: 0.5, count: 4 * 28 * 28)
        values[28 * 28 + 100] = .nan
        try NpyWriter.write(to: input, shape: [4, 1, 28, 28]) { append in values.withUnsafeBufferPointer(append) }
        let out = dir.appendingPathComponent("s.json").path
        let r = try modeltool(["apoz", model, "--data", input, "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("modeltool: warning: 1 of 4 samples hold NaN or infinite input values"), r.stderr)
        let stats = try json(out)
        XCTAssertEqual((stats["runs"] as? [[String: Any]])?.first?["samplesWithNonFiniteInput"] as? Int, 1)
        let first = try XCTUnwrap(try tensors(stats).first)
        let nonFinite = try XCTUnwrap(first["nonFinite"] as? [UInt64])
        XCTAssertGreaterThan(nonFinite.reduce(0, +), 0)
        XCTAssertTrue(r.stderr.contains("NaN or infinite values (counted apart, not as zeros)"), r.stderr)
    }
}
