import XCTest
@testable import Datasets

final class IDXTests: DatasetTestCase {
    func testEveryTypePlainAndGzipped() throws {
        let types: [(UInt8, (Int) -> Double)] = [
            (0x08, { Double($0 * 5 % 256) }), (0x09, { Double($0 % 100 - 50) }), (0x0B, { Double($0 * 300 - 9000) }),
            (0x0C, { Double($0 * 70_000 - 1_000_000) }), (0x0D, { Double($0) * 0.125 - 2 }), (0x0E, { Double($0) / 4 }),
        ]
        for (type, generate) in types {
            let shape = [5, 3, 2]
            let expected = (0..<30).map(generate)
            let bytes = Bytes.idx(expected, shape: shape, type: type)
            for path in [try write("a-idx3-ubyte", bytes), try writeGzip("a-idx3-ubyte.gz", bytes)] {
                let source = try openSource(path: path)
                XCTAssertEqual(source.count, 5)
                XCTAssertEqual(source.sampleShape, [3, 2])
                XCTAssertEqual(try values(source), expected.map { Float($0) }, "type \(type) \(path)")
                // Forward, then backward: the gzip stream rewinds.
                XCTAssertEqual(try values(source, start: 4, count: 1), expected[24...].map { Float($0) })
                XCTAssertEqual(try values(source, start: 0, count: 2), expected[..<12].map { Float($0) })
            }
        }
    }

    func testGzipDescriptionAndLabels() throws {
        let path = try writeGzip("labels-idx1-ubyte.gz", Bytes.idx([7, 2, 1, 0], shape: [4], type: 0x08))
        let labels = try openSource(path: path)
        XCTAssertEqual(labels.elementDescription, "uint8 IDX (gzip)")
        XCTAssertEqual(try labels.readLabels(start: 0, count: 4), [7, 2, 1, 0])
    }

    func testBadIDXHeaders() throws {
        let unknown = try write("u-idx", [0, 0, 0x0A, 1, 0, 0, 0, 1, 0])
        assertError("\(unknown): has unknown IDX type byte 0xa", exact: true) { _ = try openSource(path: unknown) }
        let huge = try write("h-idx", [0, 0, 0x08, 3, 0, 0x98, 0x96, 0x80, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3])
        assertError("\(huge): header claims shape [10000000,28,28] uint8 but the file holds at most 3 bytes of data", exact: true) {
            _ = try openSource(path: huge)
        }
        // A gzipped file whose header overstates its data: caught as truncated when reading.
        var short = Bytes.idx([1, 2, 3, 4], shape: [4], type: 0x08)
        short[7] = 6
        let gz = try writeGzip("s-idx.gz", short)
        let source = try openSource(path: gz)
        XCTAssertEqual(try values(source, start: 0, count: 4), [1, 2, 3, 4])
        assertError("\(gz): is truncated") { _ = try values(source, start: 4, count: 2) }
    }
}
