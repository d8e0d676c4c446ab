import Foundation
import ModelIR
import ModelPipeline
import ModelTrimming
import XCTest

final class TrimSessionTests: XCTestCase {
    private var settings: DataSettings {
        var s = fashionScale
        s.limit = 300
        return s
    }

    /// The steps one by one: measure, plan, rewrite, evaluate; nothing is written.
    func testStepsCanBeCalledSeparately() throws {
        let path = try copyOfLeNet(self)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let session = try TrimSession(modelFile: path, settings: settings)
        XCTAssertEqual(session.format, .onnx)
        var loops: [String] = []
        session.progress = { unit in loops.append(unit); return nil }

        let stats = try session.measureApoz(on: fashionImages)
        XCTAssertEqual(stats.samples, 300)
        let plan = try session.plan(stats, options: TrimOptions(layers: .named(["/conv2/Conv"])))
        let selected = plan.groups.filter(\.selected)
        XCTAssertEqual(selected.map(\.layers), [["/conv2/Conv"]])
        let removed = selected[0].removed
        XCTAssertFalse(removed.isEmpty)
        let result = try session.rewrite(plan)
        let before = try session.model.profileTotals(), after = try result.model.profileTotals()
        XCTAssertLessThan(after.params, before.params)

        let accuracyBefore = try session.accuracy(of: session.model, data: fashionImages, labels: fashionLabels)
        let accuracyAfter = try session.accuracy(of: result.model, data: fashionImages, labels: fashionLabels)
        XCTAssertGreaterThan(accuracyBefore, 0.8)
        XCTAssertGreaterThan(accuracyAfter, 0.5)
        XCTAssertEqual(loops, ["samples", "images", "images"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), original)
    }

    /// The whole step as `modeltool trim` runs it: written in place, read back, checked, measured.
    func testRunWritesReReadsAndReports() throws {
        let path = try copyOfLeNet(self)
        let session = try TrimSession(modelFile: path, settings: settings)
        var warnings: [String] = []
        session.warn = { warnings.append($0) }
        let outcome = try session.run(TrimRequest(source: .measure(data: fashionImages), labels: fashionLabels, backup: true))
        XCTAssertEqual(warnings, [])
        XCTAssertEqual(outcome.written, path)
        XCTAssertEqual(outcome.samples, 300)
        XCTAssertEqual(outcome.groups.filter(\.selected).count, 2)
        XCTAssertLessThan(outcome.paramsAfter, outcome.paramsBefore)
        let deviation = try XCTUnwrap(outcome.maxDeviation)
        XCTAssertTrue(deviation.isFinite)
        XCTAssertNotNil(outcome.accuracyBefore)
        XCTAssertNotNil(outcome.accuracyAfter)
        // The file now holds the trimmed model; the backup the original.
        XCTAssertEqual(try ModelFile.open(path).profileTotals().params, outcome.paramsAfter)
        XCTAssertEqual(ModelFingerprint.of(try ModelFile.open(path + ".bak", format: .onnx)), ModelFingerprint.of(session.model))
    }

    func testDryRunFromAStatisticsFileWritesNothing() throws {
        let path = try copyOfLeNet(self)
        let session = try TrimSession(modelFile: path, settings: settings)
        let statsPath = try temporaryDirectory(self).appendingPathComponent("stats.json").path
        try session.measureApoz(on: fashionImages).write(to: statsPath)
        let outcome = try session.run(TrimRequest(source: .file(statsPath), dryRun: true))
        XCTAssertTrue(outcome.dryRun)
        XCTAssertNil(outcome.written)
        XCTAssertNil(outcome.maxDeviation)
        XCTAssertEqual(outcome.statistics, statsPath)
        XCTAssertEqual(ModelFingerprint.of(try ModelFile.open(path)), ModelFingerprint.of(session.model))
    }
}
