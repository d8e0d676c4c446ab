import Foundation
import XCTest
import ModelFormats
import ModelIR
@testable import ModelRuntime

/// Runs the ONNX backend test cases in ../shared/onnx-backend-data whose operators the runtime
/// supports, comparing with rtol 1e-3 and atol 1e-5. With ONNX_NODE_DATA set to a folder written by
/// Tools/node-cases.py, its node cases run too (the shared data has none).
final class ConformanceTests: XCTestCase {
    static var dataRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/onnx-backend-data")
            .standardized
    }

    func testBackendCases() throws {
        let fm = FileManager.default
        let root = ConformanceTests.dataRoot
        guard fm.fileExists(atPath: root.path) else {
            throw XCTSkip("ONNX backend data not found at \(root.path)")
        }
        var passed = 0
        var failures: [String] = [], skips: [String] = []
        var suites = try fm.contentsOfDirectory(atPath: root.path).sorted().map { root.appendingPathComponent($0) }
        if let extra = ProcessInfo.processInfo.environment["ONNX_NODE_DATA"], !extra.isEmpty {
            let node = URL(fileURLWithPath: extra).appendingPathComponent("node")
            XCTAssertTrue(fm.fileExists(atPath: node.path), "ONNX_NODE_DATA has no node/ folder: \(extra)")
            suites.append(node)
        }
        for suiteURL in suites {
            let suite = suiteURL.lastPathComponent
            guard let cases = try? fm.contentsOfDirectory(atPath: suiteURL.path) else { continue }
            for name in cases.sorted() {
                let dir = suiteURL.appendingPathComponent(name)
                let modelPath = dir.appendingPathComponent("model.onnx").path
                guard fm.fileExists(atPath: modelPath) else { continue }
                let label = "\(suite)/\(name)"
                if suite == "node", let refused = Self.refusedNodeVariants.first(where: { name.contains($0.fragment) }) {
                    skips.append("\(label): \(refused.reason)")
                    continue
                }
                do {
                    switch try runCase(dir: dir, modelPath: modelPath) {
                    case .passed: passed += 1
                    case .skipped(let why): skips.append("\(label): \(why)")
                    case .failed(let why): failures.append("\(label): \(why)")
                    }
                } catch {
                    failures.append("\(label): \(error)")
                }
            }
        }
        print("conformance: \(passed) passed, \(failures.count) failed, \(skips.count) skipped")
        for s in skips { print("  skip \(s)") }
        for f in failures { print("  FAIL \(f)") }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) conformance failures:\n" + failures.joined(separator: "\n"))
        XCTAssertGreaterThan(passed, 0)
    }

    enum Outcome { case passed, skipped(String), failed(String) }

    /// Generated node cases (ONNX_NODE_DATA) of operator variants the runtime refuses on purpose,
    /// by a fragment of the case name, with the reason. Everything else must pass.
    static let refusedNodeVariants: [(fragment: String, reason: String)] = [
        ("antialias", "Resize antialias is not implemented"),
        ("tf_crop_and_resize", "Resize tf_crop_and_resize is not implemented"),
        ("not_larger", "Resize keep_aspect_ratio_policy other than stretch is not implemented"),
        ("not_smaller", "Resize keep_aspect_ratio_policy other than stretch is not implemented"),
    ]

    func runCase(dir: URL, modelPath: String) throws -> Outcome {
        let model: Model
        do { model = try ONNXReader.read(path: modelPath) } catch { return .skipped("unreadable model: \(error)") }
        let unsupported = Interpreter.unsupportedNodes(in: model)
        if !unsupported.isEmpty {
            return .skipped("unsupported " + Set(unsupported.map(\.opType)).sorted().joined(separator: ", "))
        }
        let interpreter = try Interpreter(model: model, threads: 2)
        let fm = FileManager.default
        let sets = try fm.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("test_data_set") }.sorted()
        let feedNames = model.graph.runtimeInputs.map(\.name)
        for set in sets {
            let setURL = dir.appendingPathComponent(set)
            var feed: [String: RuntimeTensor] = [:]
            for (k, name) in feedNames.enumerated() {
                let path = setURL.appendingPathComponent("input_\(k).pb").path
                guard fm.fileExists(atPath: path) else { continue }
                let t = try ONNXReader.readTensor(path: path)
                guard t.dataType.isNumeric else { return .skipped("input of type \(t.dataType)") }
                feed[name] = try RuntimeTensor(t)
            }
            let outputs = try interpreter.run(inputs: feed)
            for (k, info) in model.graph.outputs.enumerated() {
                let path = setURL.appendingPathComponent("output_\(k).pb").path
                guard fm.fileExists(atPath: path) else { continue }
                let expected = try ONNXReader.readTensor(path: path)
                guard expected.dataType.isNumeric else { return .skipped("output of type \(expected.dataType)") }
                guard let got = outputs[info.name] else { return .failed("output \(info.name) missing") }
                guard got.shape == expected.dims else {
                    return .failed("\(set) output \(info.name): shape \(got.shape), expected \(expected.dims)")
                }
                let want = try expected.floats(), have = got.floats
                for i in 0..<want.count {
                    let (a, b) = (have[i], want[i])
                    if a.isNaN && b.isNaN { continue }
                    if a == b { continue }
                    if !(abs(a - b) <= 1e-5 + 1e-3 * abs(b)) {
                        return .failed("\(set) output \(info.name)[\(i)]: got \(a), expected \(b)")
                    }
                }
            }
        }
        return .passed
    }
}
