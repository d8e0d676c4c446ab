import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Faults at the command line: kill -9 in the middle of in-place rewrites, a read-only folder, a
/// full disk (tmpfs, as root) and two rewrites of one file at once. The model file must always be
/// the original or a complete model that `modeltool info` reads.
final class FaultTests: XCTestCase {
    private let scale = "0.00392156862745098"
    private let images = "Fixtures/fashion-mnist/images.npy"
    private let labels = "Fixtures/fashion-mnist/labels.npy"

    private func binary() throws -> String {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [products.appendingPathComponent("modeltool"), repositoryRoot.appendingPathComponent(".build/debug/modeltool")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate.path
        }
        throw XCTSkip("modeltool binary not built (run `swift build` first)")
    }

    private func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    private func copy(_ fixture: String, into dir: URL) throws -> String {
        let path = dir.appendingPathComponent(URL(fileURLWithPath: fixture).lastPathComponent).path
        try FileManager.default.copyItem(atPath: repositoryRoot.appendingPathComponent(fixture).path, toPath: path)
        return path
    }

    private func temporaries(in dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
    }

    /// The file is the original, byte for byte, or a model `info` reads.
    private func assertWhole(_ path: String, original: Data, _ context: String) throws {
        let now = try Data(contentsOf: URL(fileURLWithPath: path))
        if now == original { return }
        let info = try modeltool(["info", path])
        XCTAssertEqual(info.status, 0, "\(context): the file is neither the original nor a valid model: \(info.stderr)")
    }

    /// Kills `arguments` (which rewrite `path` in place) with SIGKILL after delays spread over
    /// `seconds` (fixed jitter), checks the file after each kill, then lets one run finish: it
    /// must succeed and leave no temporary file behind.
    private func killRepeatedly(_ name: String, path: String, dir: URL, seconds: Double, kills: Int,
                                arguments: [String]) throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        var seed: UInt64 = 0x5EED
        var rewritten = 0
        for i in 0..<kills {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let jitter = Double(seed >> 11) / Double(1 << 53)
            let delay = seconds * (Double(i) + jitter) / Double(kills)
            let process = try start(arguments)
            usleep(useconds_t(delay * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try assertWhole(path, original: original, "\(name) killed after \(String(format: "%.3f", delay)) s")
            if try Data(contentsOf: URL(fileURLWithPath: path)) != original { rewritten += 1 }
        }
        let finished = try start(arguments)
        finished.waitUntilExit()
        XCTAssertEqual(finished.terminationStatus, 0, "\(name): a run after the kills failed")
        XCTAssertEqual(try temporaries(in: dir), [], "\(name): temporary files left after a complete run")
        XCTAssertEqual(try modeltool(["info", path]).status, 0, name)
        print("\(name): \(kills) kills, file rewritten by \(rewritten) of them before the kill, never torn")
    }

    func testKillDuringInPlaceTrim() throws {
        let dir = try temporaryDirectory(self)
        let model = try copy("Fixtures/models/lenet.onnx", into: dir)
        try killRepeatedly("trim", path: model, dir: dir, seconds: 3, kills: 8,
                           arguments: ["trim", model, "--data", images, "--scale", scale, "--ratio", "0.1", "--min-keep", "1"])
    }

    func testKillDuringInPlaceConvert() throws {
        let dir = try temporaryDirectory(self)
        let onnx = try copy("Fixtures/models/lenet.onnx", into: dir)
        try killRepeatedly("convert onnx", path: onnx, dir: dir, seconds: 0.25, kills: 8, arguments: ["convert", onnx, onnx])
        let keras = try copy("Fixtures/keras/k2_zoo.h5", into: dir)
        try killRepeatedly("convert h5", path: keras, dir: dir, seconds: 0.6, kills: 6, arguments: ["convert", keras, keras])
    }

    func testKillDuringInPlaceFinetune() throws {
        let dir = try temporaryDirectory(self)
        let model = try copy("Fixtures/models/lenet.onnx", into: dir)
        try killRepeatedly("finetune", path: model, dir: dir, seconds: 3, kills: 6,
                           arguments: ["finetune", model, "--data", images, "--labels", labels, "--scale", scale,
                                       "--epochs", "1", "--limit", "256"])
    }

    /// Two in-place trims of one file: while the first runs, the second fails at once, clearly.
    func testSecondRewriteOfTheSameFileFailsClearly() throws {
        let dir = try temporaryDirectory(self)
        let model = try copy("Fixtures/models/lenet.onnx", into: dir)
        let trim = ["trim", model, "--data", images, "--scale", scale]
        let first = try start(trim)
        usleep(500_000)
        let second = try modeltool(trim)
        let firstWasRunning = first.isRunning
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        if firstWasRunning {
            XCTAssertEqual(second.status, 1)
            XCTAssertEqual(second.stderr, "modeltool: \(model): another modeltool is rewriting this file; try again when it has finished\n")
        }
        XCTAssertEqual(try modeltool(["info", model]).status, 0)
        XCTAssertEqual(try temporaries(in: dir), [])
    }

    /// Mounts a tmpfs of `size` at a new folder (root only), unmounted at teardown.
    private func mountTmpfs(size: String) throws -> URL {
        guard getuid() == 0 else { throw XCTSkip("needs root to mount a tmpfs (running as uid \(getuid()))") }
        let dir = try temporaryDirectory(self)
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", dir.path]) == 0 else {
            throw XCTSkip("mount -t tmpfs failed (no permission to mount here)")
        }
        addTeardownBlock { _ = self.run("/bin/umount", [dir.path]) }
        return dir
    }

    private func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    func testFullDiskLeavesTheOriginal() throws {
        // lenet.onnx is 1,726,319 bytes; the trimmed model (about 1.1 MB) cannot fit beside it.
        let dir = try mountTmpfs(size: "1800k")
        let model = try copy("Fixtures/models/lenet.onnx", into: dir)
        let original = try Data(contentsOf: URL(fileURLWithPath: model))
        let r = try modeltool(["trim", model, "--data", images, "--scale", scale])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("modeltool: \(model): ") && r.stderr.contains("No space left on device"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), original)
        XCTAssertEqual(try temporaries(in: dir), [])
    }

    func testReadOnlyFolderLeavesTheOriginal() throws {
        let dir: URL
        let model: String
        if getuid() == 0 {
            // root ignores permission bits: a read-only mount is the only read-only folder.
            dir = try mountTmpfs(size: "4m")
            model = try copy("Fixtures/models/lenet.onnx", into: dir)
            XCTAssertEqual(run("/bin/mount", ["-o", "remount,ro", dir.path]), 0)
        } else {
            dir = try temporaryDirectory(self)
            model = try copy("Fixtures/models/lenet.onnx", into: dir)
            chmod(dir.path, 0o555)
            addTeardownBlock { chmod(dir.path, 0o755) }
        }
        let original = try Data(contentsOf: URL(fileURLWithPath: model))
        let r = try modeltool(["trim", model, "--data", images, "--scale", scale])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("modeltool: \(model): cannot create a temporary file"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), original)
    }
}
