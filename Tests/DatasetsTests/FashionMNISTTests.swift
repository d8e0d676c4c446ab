import Foundation
import XCTest
@testable import Datasets

/// Reads the real Fashion-MNIST test set when the machine has it.
final class FashionMNISTTests: XCTestCase {
    let folder = "/usr/share/datasets/fashion-mnist"

    func testFirstBatchOfTheTestSet() throws {
        let images = "\(folder)/t10k-images-idx3-ubyte.gz", labels = "\(folder)/t10k-labels-idx1-ubyte.gz"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: images) && FileManager.default.fileExists(atPath: labels),
                          "Fashion-MNIST is not installed at \(folder)")
        let source = try openSource(path: images)
        XCTAssertEqual(source.count, 10_000)
        XCTAssertEqual(source.sampleShape, [28, 28])
        let reader = try BatchReader(source: source, modelInput: [nil, 1, 28, 28], inputName: "input",
                                     preprocessing: Preprocessing(scale: 1.0 / 255))
        let batches = try reader.batches(batchSize: 100, selection: SampleSelection(limit: 1000), labels: try openSource(path: labels))
        let batch = try XCTUnwrap(batches.next())
        XCTAssertEqual(batch.shape, [100, 1, 28, 28])
        XCTAssertTrue(batch.values.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertGreaterThan(batch.values.max() ?? 0, 0.9, "images are not blank")
        let classes = try XCTUnwrap(batch.labels)
        XCTAssertTrue(classes.allSatisfy { (0...9).contains($0) })
        XCTAssertGreaterThan(Set(classes).count, 5)
    }
}
