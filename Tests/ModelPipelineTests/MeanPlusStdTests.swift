import ModelPipeline
import ModelTrimming
import XCTest

/// The paper's rule, mean + k·std of a layer's channel APoZ, is computed in one place: the trimming
/// criterion and `info`'s summary agree on it.
final class MeanPlusStdTests: XCTestCase {
    func testSpreadAndThreshold() {
        let rule = MeanPlusStd([0.1, 0.2, 0.3, 0.4, 1.0])
        XCTAssertEqual(rule.mean, 0.4, accuracy: 1e-12)
        XCTAssertEqual(rule.std, (0.5 / 5).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(rule.threshold(), rule.mean + rule.std)
        XCTAssertEqual(rule.threshold(k: 2), rule.mean + 2 * rule.std)
        XCTAssertEqual(MeanPlusStd([]), MeanPlusStd(mean: 0, std: 0))
        XCTAssertEqual(MeanPlusStd([0.5, 0.5]).std, 0)
    }

    func testCriterionAndSummaryAgree() {
        let apoz = [0.05, 0.9, 0.3, 0.31, 0.95, 0.2, 0.6]
        let summary = ApozSummary(apoz: apoz)
        let (removed, threshold) = TrimCriterion.paper.select(scores: apoz.map { $0 }, minKeep: 1)
        XCTAssertEqual(threshold, summary.threshold)
        XCTAssertEqual(removed, [1, 4])
        XCTAssertEqual(summary.aboveMeanPlusStd, removed.count)
        let (removedK2, thresholdK2) = TrimCriterion.meanPlusStd(k: 0.5).select(scores: apoz.map { $0 }, minKeep: 1)
        XCTAssertEqual(thresholdK2, MeanPlusStd(apoz).threshold(k: 0.5))
        XCTAssertEqual(removedK2, apoz.indices.filter { apoz[$0] > thresholdK2! })
    }
}
