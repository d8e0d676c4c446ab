import Foundation
import XCTest

/// `--skip-bad` at the command line: bad images are counted, named on standard error and listed
/// in `--json`; without the flag the first one is a one-line error.
final class SkipBadCommandTests: XCTestCase {
    let model = "Fixtures/models/lenet.onnx"

    /// Four Fashion-MNIST PNGs in classes 0 and 1, plus a zero-byte .png in class 0 and a
    /// truncated JPEG in class 1.
    private func folder() throws -> (path: String, bad: [String]) {
        let root = try temporaryDirectory(self).appendingPathComponent("data")
        let source = "Fixtures/fashion-mnist/png200"
        for label in ["0", "1"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(label), withIntermediateDirectories: true)
            let names = try FileManager.default.contentsOfDirectory(atPath: "\(source)/\(label)").sorted().prefix(2)
            for name in names {
                try FileManager.default.copyItem(atPath: "\(source)/\(label)/\(name)", toPath: root.appendingPathComponent("\(label)/\(name)").path)
            }
        }
        let empty = root.appendingPathComponent("0/zz-empty.png").path
        let truncated = root.appendingPathComponent("1/zz-truncated.jpg").path
        try Data().write(to: URL(fileURLWithPath: empty))
        try FileManager.default.copyItem(atPath: "Fixtures/images/truncated.jpg", toPath: truncated)
        return (root.path, [empty, truncated])
    }

    func testEvalAndApozSkipAndReportBadImages() throws {
        let (path, bad) = try folder()
        let options = ["--color", "gray", "--scale", "0.00392156862745098", "--classes", "Fixtures/fashion-mnist/png200/classes.txt"]
        var r = try modeltool(["eval", model, "--data", path, "--json", "--skip-bad"] + options)
        XCTAssertEqual(r.status, 0, r.stderr)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(result["samples"] as? Int, 4)
        let skipped = try XCTUnwrap(result["skippedImages"] as? [String: Any])
        XCTAssertEqual(skipped["count"] as? Int, 2)
        let files = try XCTUnwrap(skipped["files"] as? [[String: String]])
        XCTAssertEqual(files.map { $0["file"] }, bad)
        XCTAssertEqual(files[0]["error"], "\(bad[0]): is neither a JPEG nor a PNG file")
        XCTAssertTrue(files[1]["error"]?.hasPrefix("\(bad[1]): is not a readable JPEG") == true, "\(files[1])")
        XCTAssertTrue(r.stderr.contains("modeltool: skipped 2 unreadable images (--skip-bad): \(bad[0]), \(bad[1]); the first: "), r.stderr)

        // apoz's text output: the samples it counted, and the same line on standard error.
        let stats = try temporaryDirectory(self).appendingPathComponent("stats.json").path
        r = try modeltool(["apoz", model, "--data", path, "-o", stats, "--skip-bad"] + options)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("4 samples"), r.stdout)
        XCTAssertTrue(r.stderr.contains("skipped 2 unreadable images"), r.stderr)

        // trim (a dry run) and run report them in their own JSON too.
        for arguments in [["trim", model, "--data", path, "--dry-run", "--json"],
                          ["run", model, "--input", path, "--json", "-o", stats + ".npy"]] {
            r = try modeltool(arguments + ["--skip-bad"] + options)
            XCTAssertEqual(r.status, 0, r.stderr)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], arguments[0])
            XCTAssertEqual((object["skippedImages"] as? [String: Any])?["count"] as? Int, 2, arguments[0])
        }

        // Without --skip-bad: one line naming the first bad file, status 1.
        r = try modeltool(["eval", model, "--data", path] + options)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "modeltool: \(bad[0]): is neither a JPEG nor a PNG file\n")
    }

    /// A clean folder under --skip-bad prints exactly what it prints without it.
    func testNothingSkippedChangesNothing() throws {
        let (path, bad) = try folder()
        for file in bad { try FileManager.default.removeItem(atPath: file) }
        let options = ["--color", "gray", "--scale", "0.00392156862745098", "--json"]
        let plain = try modeltool(["eval", model, "--data", path] + options)
        let skipping = try modeltool(["eval", model, "--data", path, "--skip-bad"] + options)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(skipping.stderr, plain.stderr)
        XCTAssertFalse(skipping.stdout.contains("skippedImages"))
        XCTAssertEqual(try stripTimes(skipping.stdout), try stripTimes(plain.stdout))
    }

    private func stripTimes(_ json: String) throws -> NSDictionary {
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return object.filter { $0.key != "seconds" && $0.key != "samplesPerSecond" } as NSDictionary
    }
}
