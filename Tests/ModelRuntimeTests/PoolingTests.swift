import XCTest
import ModelIR
@testable import ModelRuntime

final class PoolingTests: XCTestCase {
    let k2s2 = [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])]

    func testMaxPoolCeilMode() throws {
        assertTensor(try run1("MaxPool", [iota([1, 1, 3, 3])], k2s2), [1, 1, 1, 1], [5])
        assertTensor(try run1("MaxPool", [iota([1, 1, 3, 3])], k2s2 + [int("ceil_mode", 1)]), [1, 1, 2, 2], [5, 6, 8, 9])
    }

    func testMaxPoolPadsAndIndices() throws {
        let r = try runOp("MaxPool", [iota([1, 1, 3, 3])], k2s2 + [ints("pads", [1, 1, 1, 1])], outputs: 2)
        assertTensor(r[0], [1, 1, 2, 2], [1, 3, 7, 9])
        XCTAssertEqual(r[1].int64s, [0, 2, 6, 8])
    }

    func testMaxPool1DDilated() throws {
        let y = try run1("MaxPool", [T([1, 1, 5], [5, 1, 2, 8, 3])], [ints("kernel_shape", [2]), ints("dilations", [2])])
        assertTensor(y, [1, 1, 3], [5, 8, 3])
    }

    func testAveragePoolCountIncludePad() throws {
        let attrs = [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])]
        let ones = T([1, 1, 3, 3], [Float](repeating: 1, count: 9))
        assertTensor(try run1("AveragePool", [ones], attrs), [1, 1, 3, 3], [Float](repeating: 1, count: 9))
        let n: Float = 9
        assertTensor(try run1("AveragePool", [ones], attrs + [int("count_include_pad", 1)]), [1, 1, 3, 3],
                     [4 / n, 6 / n, 4 / n, 6 / n, 1, 6 / n, 4 / n, 6 / n, 4 / n])
        assertTensor(try run1("AveragePool", [iota([1, 1, 3, 3])], attrs), [1, 1, 3, 3], [3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7])
    }

    func testAveragePoolCeilMode() throws {
        assertTensor(try run1("AveragePool", [iota([1, 1, 3, 3])], k2s2 + [int("ceil_mode", 1)]), [1, 1, 2, 2],
                     [3, 4.5, 7.5, 9])
    }

    func testGlobalPools() throws {
        let x = iota([1, 2, 2, 2])
        assertTensor(try run1("GlobalAveragePool", [x]), [1, 2, 1, 1], [2.5, 6.5])
        assertTensor(try run1("GlobalMaxPool", [x]), [1, 2, 1, 1], [4, 8])
    }

    func testLRN() throws {
        // size 1 normalizes each value by itself: x / (1 + alpha·x²)^beta.
        let y = try run1("LRN", [T([1, 2, 1, 1], [1, 2])], [int("size", 1), float("alpha", 1), float("beta", 1), float("bias", 1)])
        assertTensor(y, [1, 2, 1, 1], [0.5, 0.4])
    }
}
