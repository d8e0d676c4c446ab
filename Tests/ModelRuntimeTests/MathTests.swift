import XCTest
import ModelIR
@testable import ModelRuntime

final class MathTests: XCTestCase {
    func testGemmTransposesAlphaBetaAndBroadcastC() throws {
        let a = iota([2, 3]), b = iota([3, 2])
        assertTensor(try run1("Gemm", [a, b]), [2, 2], [22, 28, 49, 64])
        let at = T([3, 2], [1, 4, 2, 5, 3, 6]), bt = T([2, 3], [1, 3, 5, 2, 4, 6])
        let attrs = [int("transA", 1), int("transB", 1), float("alpha", 2), float("beta", 3)]
        assertTensor(try run1("Gemm", [at, bt, T([2], [1, 2])], attrs), [2, 2], [47, 62, 101, 134])
        assertTensor(try run1("Gemm", [a, b, T([2, 1], [1, 2])]), [2, 2], [23, 29, 51, 66])
        XCTAssertThrowsError(try run1("Gemm", [a, a]))
    }

    func testMatMulBatchedBroadcastAndPromotion() throws {
        assertTensor(try run1("MatMul", [iota([2, 2, 2]), T([2, 2], [2, 0, 0, 2])]), [2, 2, 2], [2, 4, 6, 8, 10, 12, 14, 16])
        let y = try run1("MatMul", [T([2, 1, 1, 2], [1, 2, 3, 4]), T([3, 2, 1], [1, 1, 1, 0, 0, 1])])
        assertTensor(y, [2, 3, 1, 1], [3, 1, 2, 7, 3, 4])
        assertTensor(try run1("MatMul", [T([2], [1, 2]), iota([2, 2])]), [2], [7, 10])
        assertTensor(try run1("MatMul", [iota([2, 2]), T([2], [1, 1])]), [2], [3, 7])
    }

    func testBroadcastingArithmetic() throws {
        assertTensor(try run1("Add", [iota([2, 3]), T([3], [10, 20, 30])]), [2, 3], [11, 22, 33, 14, 25, 36])
        assertTensor(try run1("Mul", [iota([1, 2, 2, 2]), T([1, 2, 1, 1], [1, -1])]), [1, 2, 2, 2], [1, 2, 3, 4, -5, -6, -7, -8])
        assertTensor(try run1("Sub", [T([], [10]), iota([3])]), [3], [9, 8, 7])
        assertTensor(try run1("Div", [iota([2, 1]), T([1, 2], [1, 2])]), [2, 2], [1, 0.5, 2, 1])
        assertTensor(try run1("Pow", [iota([3]), T([], [2])]), [3], [1, 4, 9])
        // A long row is split across threads; check the tail too.
        let long = try run1("Add", [iota([1003]), T([1], [1])])
        XCTAssertEqual(long.floats.last, 1004)
        XCTAssertThrowsError(try run1("Add", [iota([2, 3]), iota([2])])) {
            XCTAssertTrue("\($0)".contains("cannot be broadcast"), "\($0)")
        }
    }

    func testIntegerArithmeticStaysInt64() throws {
        let y = try run1("Div", [I([7, -7]), I([2])])
        XCTAssertEqual(y.elementType, .int64)
        XCTAssertEqual(y.int64s, [3, -3])
        XCTAssertEqual(try run1("Mul", [I([3]), I([4])]).int64s, [12])
    }

    func testLegacyBroadcastAttribute() throws {
        let y = try run1("Add", opset: 6, [iota([2, 3, 2]), T([3], [10, 20, 30])], [int("broadcast", 1), int("axis", 1)])
        assertTensor(y, [2, 3, 2], [11, 12, 23, 24, 35, 36, 17, 18, 29, 30, 41, 42])
    }

    func testVariadic() throws {
        assertTensor(try run1("Mean", [T([2], [1, 2]), T([2], [3, 4]), T([1], [5])]), [2], [3, 11.0 / 3])
        assertTensor(try run1("Max", [T([2], [1, 5]), T([2, 1], [3, 0])]), [2, 2], [3, 5, 1, 5])
        assertTensor(try run1("Sum", [T([2], [1, 2])]), [2], [1, 2])
    }

    func testUnaryMath() throws {
        assertTensor(try run1("Exp", [T([2], [0, 1])]), [2], [1, 2.7182817])
        assertTensor(try run1("Sqrt", [T([1], [9])]), [1], [3])
        assertTensor(try run1("Abs", [T([9], [-1, 2, -3, 4, -5, 6, -7, 8, -9])]), [9], [1, 2, 3, 4, 5, 6, 7, 8, 9])
        assertTensor(try run1("Reciprocal", [T([1], [4])]), [1], [0.25])
        assertTensor(try run1("Neg", [T([1], [4])]), [1], [-4])
        assertTensor(try run1("Log", [T([1], [1])]), [1], [0])
        assertTensor(try run1("Erf", [T([1], [0.5])]), [1], [0.5204999])
    }

    func testActivations() throws {
        let x = T([9], [-3, -1, 0, 1, 3, 6, 7, -0.5, 0.5])
        assertTensor(try run1("Relu", [x]), [9], [0, 0, 0, 1, 3, 6, 7, 0, 0.5])
        // NaN stays NaN in the vector body (first 8) and in the scalar tail (index 8) alike.
        let nan = try run1("Relu", [T([9], [.nan, -1, 1, 2, 3, 4, 5, 6, .nan])]).floats
        XCTAssertTrue(nan[0].isNaN && nan[8].isNaN, "\(nan)")
        assertTensor(try run1("LeakyRelu", [x], [float("alpha", 0.1)]), [9], [-0.3, -0.1, 0, 1, 3, 6, 7, -0.05, 0.5])
        // Hand-checked: x kept only where x > alpha, so x == alpha (1 and 0.5) gives 0; alpha defaults to 1.
        assertTensor(try run1("ThresholdedRelu", [x]), [9], [0, 0, 0, 0, 3, 6, 7, 0, 0])
        assertTensor(try run1("ThresholdedRelu", [x], [float("alpha", 0.5)]), [9], [0, 0, 0, 1, 3, 6, 7, 0, 0])
        assertTensor(try run1("ThresholdedRelu", [x], [float("alpha", -0.5)]), [9], [0, 0, 0, 1, 3, 6, 7, 0, 0.5])
        let tnan = try run1("ThresholdedRelu", [T([9], [.nan, 2, 1, 2, 3, 4, 5, 6, .nan])]).floats
        XCTAssertTrue(tnan[0].isNaN && tnan[8].isNaN && tnan[2] == 0 && tnan[1] == 2, "\(tnan)")
        XCTAssertThrowsError(try run1("ThresholdedRelu", opset: 9, [x]))  // added at opset 10
        assertTensor(try run1("Clip", opset: 6, [x], [float("min", 0), float("max", 6)]), [9], [0, 0, 0, 1, 3, 6, 6, 0, 0.5])
        assertTensor(try run1("Clip", opset: 13, [x, T([], [-1]), nil]), [9], [-1, -1, 0, 1, 3, 6, 7, -0.5, 0.5])
        assertTensor(try run1("HardSwish", [T([3], [3, -1, -4])]), [3], [3, -1.0 / 3, 0])
        assertTensor(try run1("HardSigmoid", [T([2], [0, 10])]), [2], [0.5, 1])
        assertTensor(try run1("Sigmoid", [T([2], [0, -100])]), [2], [0.5, 0])
        assertTensor(try run1("Tanh", [T([1], [0])]), [1], [0])
        assertTensor(try run1("Elu", [T([2], [-1, 2])]), [2], [-0.63212055, 2])
        assertTensor(try run1("Selu", [T([2], [-1, 1])]), [2], [-1.1113307, 1.050701])
        assertTensor(try run1("Softplus", [T([2], [0, 100])]), [2], [0.6931472, 100])
        assertTensor(try run1("Softsign", [T([1], [1])]), [1], [0.5])
        assertTensor(try run1("PRelu", [T([1, 2, 1], [-1, -1]), T([2, 1], [0.5, 2])]), [1, 2, 1], [-0.5, -2])
        assertTensor(try run1("Gelu", opset: 20, [T([1], [1])]), [1], [0.8413447])
        assertTensor(try run1("Gelu", opset: 20, [T([1], [1])], [string("approximate", "tanh")]), [1], [0.841192])
    }

    func testSoftmaxAxisDependsOnOpset() throws {
        let ln3 = Float(log(3.0))
        let x = T([1, 2, 2], [0, ln3, 0, ln3])
        // Opset < 13, default axis 1: coerced to [1, 4] and normalized over all four.
        assertTensor(try run1("Softmax", opset: 11, [x]), [1, 2, 2], [0.125, 0.375, 0.125, 0.375])
        // Opset 13, default axis -1: per last axis.
        assertTensor(try run1("Softmax", opset: 13, [x]), [1, 2, 2], [0.25, 0.75, 0.25, 0.75])
        assertTensor(try run1("Softmax", opset: 13, [x], [int("axis", 1)]), [1, 2, 2], [0.5, 0.5, 0.5, 0.5])
        assertTensor(try run1("LogSoftmax", opset: 13, [x]), [1, 2, 2], [log(0.25), log(0.75), log(0.25), log(0.75)])
    }

    func testNormalizations() throws {
        let bn = try run1("BatchNormalization", opset: 15, [T([1, 2, 1, 1], [1, 2]), T([2], [1, 2]), T([2], [0, 1]),
                                                             T([2], [0, 1]), T([2], [1, 4])], [float("epsilon", 0)])
        assertTensor(bn, [1, 2, 1, 1], [1, 2])
        let inorm = try run1("InstanceNormalization", [T([1, 1, 2], [1, 3]), T([1], [2]), T([1], [1])], [float("epsilon", 0)])
        assertTensor(inorm, [1, 1, 2], [-1, 3])
        let ln = try runOp("LayerNormalization", [T([2, 2], [1, 3, 0, 4]), T([2], [1, 2]), T([2], [0, 1])],
                           [float("epsilon", 0)], outputs: 3)
        assertTensor(ln[0], [2, 2], [-1, 3, -1, 3])
        assertTensor(ln[1], [2, 1], [2, 2])
        assertTensor(ln[2], [2, 1], [1, 0.5])
    }

    func testReductions() throws {
        let x = iota([2, 2, 2])
        assertTensor(try run1("ReduceSum", opset: 12, [x], [ints("axes", [0, 2]), int("keepdims", 0)]), [2], [14, 22])
        assertTensor(try run1("ReduceSum", opset: 13, [x, I([0, 2])]), [1, 2, 1], [14, 22])
        assertTensor(try run1("ReduceSum", opset: 13, [x]), [1, 1, 1], [36])
        assertTensor(try run1("ReduceSum", opset: 13, [x, I([])], [int("noop_with_empty_axes", 1)]), [2, 2, 2],
                     (1...8).map(Float.init))
        assertTensor(try run1("ReduceMean", opset: 17, [x], [ints("axes", [-1])]), [2, 2, 1], [1.5, 3.5, 5.5, 7.5])
        assertTensor(try run1("ReduceMean", opset: 18, [x, I([1])], [int("keepdims", 0)]), [2, 2], [2, 3, 6, 7])
        assertTensor(try run1("ReduceMax", opset: 13, [x], [ints("axes", [1, 2])]), [2, 1, 1], [4, 8])
        assertTensor(try run1("ReduceL2", opset: 13, [T([2], [3, 4])]), [1], [5])
    }

    /// Reductions over 16 or more contiguous values (a 7×7 map per channel) take 8 lanes at a
    /// time: the same maxima and minima, and sums exact here (small integers), with a NaN passing.
    func testLongRowReductions() throws {
        for n in [16, 49, 50, 64] {
            let values = (0..<(3 * n)).map { Float(($0 * 37) % 101) - 50 }
            let x = T([3, n], values)
            let rows = (0..<3).map { Array(values[($0 * n)..<(($0 + 1) * n)]) }
            assertTensor(try run1("ReduceSum", opset: 13, [x, I([1])]), [3, 1], rows.map { $0.reduce(0, +) })
            assertTensor(try run1("ReduceMean", opset: 17, [x], [ints("axes", [1])]), [3, 1], rows.map { $0.reduce(0, +) / Float(n) })
            assertTensor(try run1("ReduceMax", opset: 13, [x], [ints("axes", [1])]), [3, 1], rows.map { $0.max()! })
            assertTensor(try run1("ReduceMin", opset: 13, [x], [ints("axes", [1])]), [3, 1], rows.map { $0.min()! })
        }
        var withNaN = (0..<20).map(Float.init)
        withNaN[13] = .nan
        XCTAssertTrue(try run1("ReduceSum", opset: 13, [T([1, 20], withNaN), I([1])]).floats[0].isNaN)
    }

    /// A product split into row blocks (m ≥ n) or column blocks over threads equals one call.
    func testSplitGemmMatchesOneCall() {
        for (m, n, k) in [(96, 40, 160), (24, 200, 130)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = (0..<(m * k)).map { Float(($0 * 7) % 23) / 8 - 1 }, b = (0..<(k * n)).map { Float(($0 * 5) % 19) / 8 - 1 }
                let lda = ta ? m : k, ldb = tb ? k : n
                var one = [Float](repeating: 1, count: m * n), split = one
                sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a, lda: lda, b, ldb: ldb, beta: 2, &one, ldc: n)
                sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a, lda: lda, b, ldb: ldb, beta: 2, &split, ldc: n,
                      threads: 2)
                XCTAssertEqual(one, split, "m \(m) n \(n) transA \(ta) transB \(tb)")
                XCTAssertNotEqual(one[0], 1)
            }
        }
    }
}
