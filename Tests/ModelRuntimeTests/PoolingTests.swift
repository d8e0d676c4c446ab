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

    /// Every pooling path (2×2 pairs, tap-wise rows, strided taps, padding, ceil mode, dilation,
    /// 1-D and 3-D) against a direct per-window computation written here.
    func testPoolingPathsMatchDirectWindows() throws {
        let cases: [(spatial: [Int], attrs: [Attribute])] = [
            ([8, 20], [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])]),
            ([7, 19], [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])]),
            ([7, 19], [ints("kernel_shape", [2, 2]), ints("strides", [2, 2]), int("ceil_mode", 1)]),
            ([14, 14], [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])]),
            ([9, 11], [ints("kernel_shape", [3, 3]), ints("strides", [2, 2]), ints("pads", [1, 0, 1, 2]), int("ceil_mode", 1)]),
            // Stride-2 rows long enough for the 8-wide loop (a 3×3 stride-2 stem), ending at the
            // plane's last value.
            ([5, 50], [ints("kernel_shape", [3, 3]), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1])]),
            ([6, 37], [ints("kernel_shape", [3, 3]), ints("strides", [2, 2])]),
            ([10, 12], [ints("kernel_shape", [2, 3]), ints("dilations", [2, 2]), ints("pads", [0, 1, 1, 0])]),
            ([17], [ints("kernel_shape", [3]), ints("strides", [2]), ints("pads", [1, 1])]),
            ([17], [ints("kernel_shape", [4]), ints("dilations", [3]), ints("pads", [2, 5])]),
            ([3, 6, 18], [ints("kernel_shape", [1, 2, 2]), ints("strides", [1, 2, 2])]),
            ([4, 5, 6], [ints("kernel_shape", [2, 3, 2]), ints("pads", [1, 1, 0, 0, 1, 1])]),
        ]
        for (spatial, attrs) in cases {
            let shape = [2, 3] + spatial
            let n = shape.reduce(1, *)
            let x = T(shape, (0..<n).map { Float(($0 * 37) % 101) - 50 })
            let params = try WindowAttributes.forKernels(Node(opType: "MaxPool", inputs: [], outputs: [], attributes: attrs))
            let g = try WindowGeometry(spatial: spatial, kernel: params.kernelShape!, params)
            for (op, extra) in [("MaxPool", [Attribute]()), ("AveragePool", []), ("AveragePool", [int("count_include_pad", 1)])] {
                let y = try run1(op, [x], attrs + extra)
                let expected = directPool(x.floats, planes: 6, g, max: op == "MaxPool", countPadding: !extra.isEmpty)
                assertTensor(y, [2, 3] + g.outputShape, expected)
            }
        }
    }

    private func directPool(_ x: [Float], planes: Int, _ g: WindowGeometry, max: Bool, countPadding: Bool) -> [Float] {
        var out: [Float] = []
        for p in 0..<planes {
            for od in 0..<g.output[0] { for oh in 0..<g.output[1] { for ow in 0..<g.output[2] {
                var best = -Float.infinity, sum: Float = 0, inside = 0, padded = 1
                let o = [od, oh, ow]
                for a in 0..<3 {
                    var c = 0
                    for k in 0..<g.kernel[a] {
                        let i = o[a] * g.stride[a] - g.padBegin[a] + k * g.dilation[a]
                        if i >= -g.padBegin[a] && i < g.input[a] + g.padEnd[a] { c += 1 }
                    }
                    padded *= c
                }
                for kd in 0..<g.kernel[0] { for kh in 0..<g.kernel[1] { for kw in 0..<g.kernel[2] {
                    let i = [kd, kh, kw].indices.map { a in o[a] * g.stride[a] - g.padBegin[a] + [kd, kh, kw][a] * g.dilation[a] }
                    guard (0..<3).allSatisfy({ i[$0] >= 0 && i[$0] < g.input[$0] }) else { continue }
                    let v = x[p * g.inputVolume + (i[0] * g.input[1] + i[1]) * g.input[2] + i[2]]
                    best = Swift.max(best, v); sum += v; inside += 1
                } } }
                out.append(max ? best : sum / Float(countPadding ? padded : inside))
            } } }
        }
        return out
    }
}
