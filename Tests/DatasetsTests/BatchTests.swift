import XCTest
@testable import Datasets

final class BatchTests: DatasetTestCase {
    /// An [n, 2] float array whose sample i holds (i, -i), and labels i % 10.
    func makeSet(_ n: Int) throws -> (SampleSource, SampleSource) {
        let x = (0..<n).flatMap { [Double($0), -Double($0)] }
        let samples = try openSource(path: try write("x.npy", Bytes.npy(x, shape: [n, 2], descr: "<f4")))
        let labels = try openSource(path: try write("y.npy", Bytes.npy((0..<n).map { Double($0 % 10) }, shape: [n], descr: "|u1")))
        return (samples, labels)
    }

    func testShardRangesAreContiguousAndLastTakesRemainder() throws {
        XCTAssertEqual(try Shard(parsing: "0/3").range(total: 10), 0..<3)
        XCTAssertEqual(try Shard(parsing: "1/3").range(total: 10), 3..<6)
        XCTAssertEqual(try Shard(parsing: "2/3").range(total: 10), 6..<10)
        XCTAssertEqual(try Shard(index: 3, count: 4).range(total: 2), 0..<2)
        assertError("shard 3/3: is out of range") { _ = try Shard(parsing: "3/3") }
        assertError("is not of the form i/n") { _ = try Shard(parsing: "1-3") }
        assertError("is out of range") { _ = try Shard(index: 0, count: 0) }
    }

    /// Every combination of limit, shard count and batch size covers each selected sample once.
    func testBatchesCoverEverySampleExactlyOnce() throws {
        let n = 23
        let (samples, labels) = try makeSet(n)
        let reader = try BatchReader(source: samples, modelInput: [nil, 2], inputName: "x")
        for limit in [nil, 0, 1, 10, 23, 100] {
            let total = min(n, limit ?? n)
            for shards in [1, 2, 3, 5, 30] {
                for batchSize in [1, 4, 7, 64] {
                    var seen: [Int] = []
                    for index in 0..<shards {
                        let selection = SampleSelection(limit: limit, shard: try Shard(index: index, count: shards))
                        let batches = try reader.batches(batchSize: batchSize, selection: selection, labels: labels)
                        var batchCount = 0
                        while let batch = try batches.next() {
                            batchCount += 1
                            XCTAssertLessThanOrEqual(batch.range.count, batchSize)
                            XCTAssertEqual(batch.shape, [batch.range.count, 2])
                            for (k, i) in batch.range.enumerated() {
                                XCTAssertEqual(batch.values[2 * k], Float(i))
                                XCTAssertEqual(batch.values[2 * k + 1], -Float(i))
                                XCTAssertEqual(batch.labels?[k], i % 10)
                            }
                            seen += batch.range
                        }
                        XCTAssertEqual(batchCount, batches.batchCount)
                    }
                    XCTAssertEqual(seen, Array(0..<total), "limit \(String(describing: limit)) shards \(shards) batch \(batchSize)")
                }
            }
        }
    }

    func testBufferIsReusedAndResetStartsOver() throws {
        let (samples, _) = try makeSet(10)
        let batches = try BatchReader(source: samples, modelInput: [nil, 2], inputName: "x").batches(batchSize: 3)
        let first = try XCTUnwrap(batches.next())
        var addresses: Set<UnsafePointer<Float>> = [first.values.baseAddress!]
        while let batch = try batches.next() { addresses.insert(batch.values.baseAddress!) }
        XCTAssertEqual(addresses.count, 1, "one buffer across all batches")
        batches.reset()
        XCTAssertEqual(try batches.next()?.range, 0..<3)
    }

    func testLabelIteratorMatchesBatches() throws {
        let (samples, labels) = try makeSet(12)
        let iterator = try LabelIterator(labels: labels, alignedWith: samples, batchSize: 5,
                                         selection: SampleSelection(limit: 11, shard: try Shard(parsing: "1/2")))
        XCTAssertEqual(iterator.range, 5..<11)
        XCTAssertEqual(try iterator.next(), [5, 6, 7, 8, 9])
        XCTAssertEqual(try iterator.next(), [0])
        XCTAssertNil(try iterator.next())
    }

    func testMismatchedLabelCountAndBadArguments() throws {
        let (samples, _) = try makeSet(4)
        let labels = try openSource(path: try write("l.npy", Bytes.npy([1, 2, 3], shape: [3], descr: "<i8")))
        let reader = try BatchReader(source: samples, modelInput: [nil, 2], inputName: "x")
        assertError("\(labels.name): has 3 labels but \(samples.name) has 4 samples", exact: true) {
            _ = try reader.batches(batchSize: 2, labels: labels)
        }
        assertError("batch size must be positive, got 0") { _ = try reader.batches(batchSize: 0) }
        assertError("limit must not be negative, got -1") { _ = try reader.batches(batchSize: 1, selection: SampleSelection(limit: -1)) }
    }
}
