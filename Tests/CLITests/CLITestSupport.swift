import Foundation
import XCTest

/// The repository root, found from this file's location.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The output of one run of the built `modeltool` binary.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the modeltool binary built next to this test bundle.
func modeltool(_ arguments: [String], environment: [String: String] = [:], file: StaticString = #filePath,
               line: UInt = #line) throws -> RunResult {
    let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var binary = products.appendingPathComponent("modeltool")
    if !FileManager.default.isExecutableFile(atPath: binary.path) {
        binary = repositoryRoot.appendingPathComponent(".build/debug/modeltool")
    }
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
        throw XCTSkip("modeltool binary not built (run `swift build` first)")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.currentDirectoryURL = repositoryRoot
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return RunResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self))
}

func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("modeltool-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}
