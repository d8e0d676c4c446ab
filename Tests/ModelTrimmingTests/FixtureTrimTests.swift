import Foundation
import ModelFormats
import ModelIR
import ModelRuntime
@testable import ModelTrimming
import XCTest

/// The bundled models trim with synthetic statistics on every ReLU/Clip output, and the result
/// verifies and runs. Trimmed copies go to $TRIM_FIXTURE_OUT (when set) for Tools/trim-crosscheck.py.
final class FixtureTrimTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures/models").standardized.path

    func trimFixture(_ name: String, options: TrimOptions = TrimOptions(criterion: .ratio(0.25), layers: .all)) throws -> (Model, TrimResult) {
        let path = "\(Self.folder)/\(name).onnx"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) is absent") }
        let model = try ONNXReader.read(path: path)
        let analysis = try ChannelAnalysis(model: model)
        var rng = LCG(5)
        var stats: [String: ChannelStatistics] = [:]
        for node in model.graph.nodes where node.opType == "Relu" || node.opType == "Clip" {
            guard let out = node.outputs.first, let m = analysis.map(out), case .channels = m.kind else { continue }
            let c = m.channelCount
            stats[out] = ChannelStatistics(apoz: (0..<c).map { _ in Double(rng.next() * 0.5 + 0.5) }, mean: (0..<c).map { _ in Double(abs(rng.next())) })
        }
        let result = try XCTUnwrap(Trimmer.trim(model, statistics: stats, options: options).result)
        try result.model.graph.verify()
        let x = try randomInput([2, 1, 28, 28])
        let out = try Interpreter(model: result.model, threads: 1).run(inputs: ["input": x])
        XCTAssertEqual(out["logits"]?.shape, [2, 10], name)
        if let dir = ProcessInfo.processInfo.environment["TRIM_FIXTURE_OUT"] {
            try ONNXWriter.write(result.model, to: "\(dir)/\(name)_trimmed.onnx")
        }
        let report = try result.report()
        XCTAssertLessThan(report.paramsAfter, report.paramsBefore, name)
        XCTAssertGreaterThan(report.compressionRate, 1, name)
        return (model, result)
    }

    func testLeNet() throws {
        let (_, r) = try trimFixture("lenet")
        XCTAssertEqual(r.model.initializer("fc1.weight")?.dims[1], r.model.initializer("conv2.weight")!.dims[0] * 16)
    }

    func testLeNetDynamo() throws { _ = try trimFixture("lenet_dynamo") }
    func testVGGStyle() throws { _ = try trimFixture("vgg_style") }

    func testResNetStyleTrimsAResidualGroup() throws {
        let (_, r) = try trimFixture("resnet_style")
        let residual = try XCTUnwrap(r.plan.groups.first { $0.layers.count >= 2 && !$0.removed.isEmpty })
        XCTAssertTrue(residual.group.isPrunable)
    }

    func testMobileNetStyleTrimsThroughDepthwise() throws {
        let (before, r) = try trimFixture("mobilenet_style")
        let dw = "/ds2/dw/dw.0/Conv"
        let g0 = before.graph.nodes.first { $0.name == dw }!.int("group", default: 0)
        let g1 = r.model.graph.nodes.first { $0.name == dw }!.int("group", default: 0)
        XCTAssertLessThan(g1, g0)
    }

    /// Trimming only the 3x3 branch of the first inception block narrows that branch and shifts
    /// the Concat's later channels: the next block's 1x1 convs lose exactly those input slices.
    func testInceptionStyleTrimsOneConcatBranch() throws {
        let (before, r) = try trimFixture("inception_style", options: TrimOptions(criterion: .ratio(0.25),
                                                                               layers: .named(["/mixed1/b2/Conv"])))
        func weight(_ model: Model, _ node: String) -> [Int]? {
            model.graph.nodes.first { $0.name == node }.flatMap { n in model.initializer(n.inputs[1])?.dims }
        }
        XCTAssertEqual(weight(before, "/mixed1/b2/Conv")?[0], 24)
        XCTAssertEqual(weight(r.model, "/mixed1/b2/Conv")?[0], 18, "a quarter of the branch's 24 channels removed")
        XCTAssertEqual(weight(r.model, "/mixed1/b1/Conv")?[0], 16, "the other branches keep their widths")
        XCTAssertEqual(weight(before, "/mixed2/b1/Conv")?[1], 56)
        XCTAssertEqual(weight(r.model, "/mixed2/b1/Conv")?[1], 50, "the consumer after the Concat loses the same 6 inputs")
    }
}
