import Foundation
import XCTest
import ModelIR
import ModelRuntime
@testable import ModelPipeline

/// Hostile numbers in a statistics file are one-line errors, never an arithmetic trap: counts
/// near 2^64 (zeros + non-finite), and run ranges near Int.max (the overlap check of a merge and
/// the warnings' totals add them). Also: the libFuzzer seed file (Fixtures/fuzz) is a valid file.
final class StatisticsOverflowTests: XCTestCase {
    private func stats(first: Int = 0, count: Int = 10, dataset: Int = 10, nonFiniteSamples: Int = 0,
                       zeros: UInt64 = 1, nonFinite: UInt64 = 0, positions: UInt64 = 2) -> ApozStatistics {
        let point = ObservationPoint(tensor: "y", node: "r", op: "Relu", producers: [])
        let tensor = TensorStatistics(point: point, zeros: [zeros], positions: [positions], nonFinite: [nonFinite],
                                      sums: [0], sumsOfSquares: [0])
        let run = ApozStatistics.Run(data: "x.npy", datasetSamples: dataset, first: first, count: count, limit: nil, shard: nil,
                                     preprocessing: "", samplesWithNonFiniteInput: nonFiniteSamples)
        return ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run], tensors: [tensor])
    }

    private func assertRefused(_ s: ApozStatistics, _ expected: String, line: UInt = #line) throws {
        XCTAssertThrowsError(try ApozStatistics.decode(try s.encoded(), file: "s.json"), line: line) { error in
            let message = (error as? StatisticsError)?.message ?? "\(error)"
            XCTAssertTrue(message.hasPrefix("s.json: ") && message.contains(expected), message, line: line)
        }
    }

    func testCountsNear2To64AreComparedWithoutOverflow() throws {
        let half = UInt64(1) << 63
        try assertRefused(stats(zeros: half, nonFinite: half, positions: .max), "counts more zeros or non-finite values than positions")
        let fine = try ApozStatistics.decode(try stats(zeros: half, nonFinite: half - 1, positions: .max).encoded(), file: "s.json")
        XCTAssertEqual(fine.tensors[0].zeros, [half])
    }

    func testRunRangesMustLieInsideTheirDataSet() throws {
        try assertRefused(stats(first: .max, count: 1, dataset: .max), "do not fit together")
        try assertRefused(stats(first: 5, count: 10, dataset: 10), "do not fit together")
        try assertRefused(stats(first: -1, count: 1), "do not fit together")
        try assertRefused(stats(nonFiniteSamples: .max), "do not fit together")
        try assertRefused(stats(nonFiniteSamples: 11), "do not fit together")
        // Valid runs whose warnings add up past Int.max in a merge of many files: saturated.
        var many = stats(first: 0, count: .max, dataset: .max, nonFiniteSamples: .max)
        many.runs += many.runs
        XCTAssertTrue(many.warnings[0].hasPrefix("warning: \(Int.max) of "), many.warnings[0])
    }

    func testTheFuzzSeedIsAValidFile() throws {
        let seed = try ApozStatistics.read(from: "Fixtures/fuzz/apoz_stats.json")
        XCTAssertEqual(seed.tensors.map(\.tensor), ["/relu1", "/clip"])
        XCTAssertEqual(seed.warnings.count, 2)
    }
}
