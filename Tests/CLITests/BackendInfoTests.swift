import Foundation
import XCTest

/// `modeltool info` succeeds on every ONNX backend-test model (shape inference and profiling
/// included), so no real-world model trips the importer's analysis.
final class BackendInfoTests: XCTestCase {
    func testInfoOnEveryBackendModel() throws {
        let dir = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/onnx-backend-data")
        guard FileManager.default.fileExists(atPath: dir.path) else {
            throw XCTSkip("../shared/onnx-backend-data is absent; backend info test skipped")
        }
        let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)
        var models: [String] = []
        while let u = e?.nextObject() as? URL { if u.pathExtension == "onnx" { models.append(u.path) } }
        XCTAssertGreaterThan(models.count, 100)
        var failures: [String] = []
        for path in models.sorted() {
            let r = try modeltool(["info", "--json", path])
            if r.status != 0 { failures.append(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        XCTAssertEqual(failures, [], "info failed on \(failures.count) of \(models.count) models")
        print("info: \(models.count - failures.count) of \(models.count) backend models")
    }
}
