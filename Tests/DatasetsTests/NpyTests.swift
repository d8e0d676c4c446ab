import XCTest
@testable import Datasets

final class NpyTests: DatasetTestCase {
    /// Every supported dtype, C and Fortran order, several shapes: values must come back exactly.
    func testEveryDtypeInBothOrders() throws {
        let cases: [(descr: String, values: (Int) -> Double)] = [
            ("<f4", { Double($0) * 0.5 - 3 }), ("<f8", { Double($0) * 0.25 - 7 }), ("|u1", { Double($0 * 7 % 256) }),
            ("<i8", { Double($0 * 1000 - 40_000) }), ("<i4", { Double(-$0 * 3) }), ("|i1", { Double($0 % 128 - 64) }),
            ("<u2", { Double($0 * 999) }), ("|b1", { Double($0 % 2) }), ("<i2", { Double($0 - 30) }),
            ("<f2", { Double($0) * 0.5 }), (">f4", { Double($0) - 0.75 }), (">i2", { Double(-$0) }),
        ]
        for (descr, generate) in cases {
            for shape in [[4], [5, 3], [4, 2, 3], [3, 2, 1, 2]] {
                let expected = (0..<shape.reduce(1, *)).map(generate)
                for fortran in [false, true] {
                    let path = try write("a.npy", Bytes.npy(expected, shape: shape, descr: descr, fortran: fortran))
                    let source = try openSource(path: path)
                    let label = "\(descr) \(shape) fortran=\(fortran)"
                    XCTAssertEqual(source.count, shape[0], label)
                    XCTAssertEqual(source.sampleShape, Array(shape.dropFirst()), label)
                    XCTAssertEqual(try values(source), expected.map { Float($0) }, label)
                    // A batch from the middle: a strided gather in Fortran order.
                    let per = source.sampleElementCount
                    XCTAssertEqual(try values(source, start: 1, count: 2), Array(expected[per..<(3 * per)]).map { Float($0) }, label)
                }
            }
        }
    }

    func testVersion2And3HeadersAndDescription() throws {
        for major: UInt8 in [2, 3] {
            let path = try write("v.npy", Bytes.npy([1, 2, 3, 4, 5, 6], shape: [2, 3], descr: "<f8", fortran: true, major: major))
            let source = try openSource(path: path)
            XCTAssertEqual(try values(source), [1, 2, 3, 4, 5, 6])
            XCTAssertEqual(source.elementDescription, "float64 (<f8) .npy, Fortran order")
        }
    }

    func testLabelsFromOneDimensionalArray() throws {
        let path = try write("y.npy", Bytes.npy([3, 0, 9, 1], shape: [4], descr: "<i8"))
        let labels = try openSource(path: path)
        XCTAssertEqual(try labels.readLabels(start: 1, count: 3), [0, 9, 1])
        let floats = try write("f.npy", Bytes.npy([1.5], shape: [1], descr: "<f4"))
        assertError("label 0 is 1.5, not an integer class index") { _ = try openSource(path: floats).readLabels(start: 0, count: 1) }
        let wide = try write("w.npy", Bytes.npy([1, 2], shape: [1, 2], descr: "<f4"))
        assertError("labels must be one value per sample") { _ = try openSource(path: wide).readLabels(start: 0, count: 1) }
    }

    func testOutOfRangeReadIsAnError() throws {
        let path = try write("a.npy", Bytes.npy([1, 2, 3], shape: [3], descr: "<f4"))
        let source = try openSource(path: path)
        assertError("samples 2..<4 are out of range (the source has 3)") { _ = try values(source, start: 2, count: 2) }
    }

    /// Runs longer than one read chunk, and Fortran columns far apart (no merging), still read exactly.
    func testLargerThanOneChunk() throws {
        let n = 300_000
        let expected = (0..<(n * 2)).map { Double($0 % 251) }
        let path = try write("big.npy", Bytes.npy(expected, shape: [n, 2], descr: "|u1", fortran: true))
        let source = try openSource(path: path)
        let got = try values(source)
        XCTAssertEqual(got.count, expected.count)
        XCTAssertTrue(zip(got, expected).allSatisfy { $0 == Float($1) })
        XCTAssertEqual(try values(source, start: n - 1, count: 1), [Float(expected[2 * n - 2]), Float(expected[2 * n - 1])])
    }
}
