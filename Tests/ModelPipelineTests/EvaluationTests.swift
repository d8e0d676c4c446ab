import ModelPipeline
import XCTest

final class EvaluationTests: XCTestCase {
    func testTopKCountsTiesAsNumpyDoes() throws {
        var accuracy = TopKAccuracy(k: 2)
        let scores: [Float] = [0.1, 0.7, 0.2,   // label 1: top-1
                               0.5, 0.5, 0.0,   // label 1: tie, the lower class ranks first: top-2 only
                               0.9, 0.05, 0.05] // label 2: rank 2 (tie with 1, which comes first)
        try scores.withUnsafeBufferPointer { try accuracy.add(scores: $0, classes: 3, labels: [1, 1, 2]) }
        XCTAssertEqual(accuracy.samples, 3)
        XCTAssertEqual(accuracy.top1Hits, 1)
        XCTAssertEqual(accuracy.topKHits, 2)
        XCTAssertThrowsError(try scores.withUnsafeBufferPointer { try accuracy.add(scores: $0, classes: 3, labels: [1, 1, 3]) })
    }

    /// The bundled LeNet scores 87.9% on the bundled 1000-sample slice (Fixtures/models/metrics.json).
    func testLeNetAccuracyOnTheFashionMNISTSlice() throws {
        var calls = 0
        let evaluation = try Evaluation.run(model: try ModelFile.open(lenet), data: fashionImages, labels: fashionLabels,
                                            top: 5, settings: fashionScale, progress: { _, _ in calls += 1 })
        XCTAssertEqual(evaluation.accuracy.samples, 1000)
        XCTAssertEqual(evaluation.accuracy.top1Hits, 879)
        XCTAssertGreaterThanOrEqual(evaluation.accuracy.topKHits, 879)
        XCTAssertEqual(calls, 1 + (1000 + 63) / 64)
    }
}
