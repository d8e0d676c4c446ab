import ModelIR
@testable import ModelTrimming
import XCTest

/// Slicing a weight along several axes in one pass, and reading elements in place.
final class TensorSlicingTests: XCTestCase {
    func testOnePassOverSeveralAxesEqualsOneAxisAtATime() throws {
        let dims = [3, 4, 5, 2]
        let values = (0..<dims.reduce(1, *)).map { Float($0) * 0.5 - 7 }
        let t = Tensor(name: "w", floats: values, dims: dims)
        let cases: [[Int: [Int]]] = [[0: [0, 2], 2: [1, 3, 4]], [1: [3]], [0: [1], 1: [0, 1, 3], 3: [1]], [2: []]]
        for keeping in cases {
            let once = try t.sliced(keeping: keeping)
            var stepwise = t
            for (axis, kept) in keeping.sorted(by: { $0.key < $1.key }) { stepwise = try stepwise.sliced(keeping: [axis: kept]) }
            // The reference: every element whose index along each sliced axis is kept, in order.
            var expected: [Float] = []
            for i in 0..<dims[0] where keeping[0]?.contains(i) ?? true {
                for j in 0..<dims[1] where keeping[1]?.contains(j) ?? true {
                    for k in 0..<dims[2] where keeping[2]?.contains(k) ?? true {
                        for l in 0..<dims[3] where keeping[3]?.contains(l) ?? true {
                            expected.append(values[((i * dims[1] + j) * dims[2] + k) * dims[3] + l])
                        }
                    }
                }
            }
            XCTAssertEqual(try once.floats(), expected, "\(keeping)")
            XCTAssertEqual(once.dims, dims.indices.map { keeping[$0]?.count ?? dims[$0] }, "\(keeping)")
            XCTAssertEqual(try stepwise.floats(), expected, "\(keeping)")
        }
        XCTAssertThrowsError(try t.sliced(keeping: [4: [0]]))
        XCTAssertThrowsError(try t.sliced(keeping: [1: [4]]))
    }

    func testElementsAreReadInPlaceForEveryFloatType() throws {
        let values: [Float] = [1.5, -2, 0.25, 1024]
        let float = Tensor(name: "f", floats: values, dims: [4])
        XCTAssertEqual(try float.withElements { read in (0..<4).map(read) }, values.map(Double.init))
        let halves: [UInt16] = [0x3E00, 0xC000, 0x3400, 0x6400]  // the same values as binary16
        let half = Tensor(name: "h", dataType: .float16, dims: [4],
                          storage: .bytes(halves.withUnsafeBytes { TensorBytes(copying: $0) }))
        XCTAssertEqual(try half.withElements { read in (0..<4).map(read) }, values.map(Double.init))
        let ints = Tensor(name: "i", int64s: [3, -4], dims: [2])
        XCTAssertEqual(try ints.withElements { read in (0..<2).map(read) }, [3, -4])
    }
}
