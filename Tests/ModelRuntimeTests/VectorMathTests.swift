import XCTest
@testable import ModelRuntime

/// The vector e^x and logistic function against the C library's, in Double.
final class VectorMathTests: XCTestCase {
    func testExpWithinTwoUlpOverTheNormalRange() {
        var worst: Double = 0
        var x: Float = -87.3
        while x < 88.7 {
            let v = F16((0..<16).map { x + Float($0) * 0.0007 })
            let got = VectorMath.exp(v)
            for k in 0..<16 {
                let exact = Foundation.exp(Double(v[k]))
                let ulp = Double(Float(exact).ulp)
                worst = max(worst, abs(Double(got[k]) - exact) / ulp)
            }
            x += 0.0137
        }
        XCTAssertLessThanOrEqual(worst, 2, "largest error in ulp")
    }

    func testExpAtTheEdges() {
        let v = F16([-.infinity, -1000, -87.5, 0, 88.8, 1000, .infinity, .nan, -0.0, 1, -1, 88.7, -87.3, 10, -10, 0.5])
        let got = VectorMath.exp(v)
        XCTAssertEqual(got[0], 0)
        XCTAssertEqual(got[1], 0)
        XCTAssertEqual(got[2], 0, "below the normal range: 0, no subnormal results")
        XCTAssertEqual(got[3], 1)
        XCTAssertEqual(got[4], .infinity)
        XCTAssertEqual(got[5], .infinity)
        XCTAssertEqual(got[6], .infinity)
        XCTAssertTrue(got[7].isNaN)
        XCTAssertEqual(got[8], 1)
        XCTAssertEqual(Double(got[11]), Foundation.exp(Double(Float(88.7))), accuracy: Foundation.exp(88.7) * 3e-7)
        XCTAssertEqual(Double(got[12]), Foundation.exp(Double(Float(-87.3))), accuracy: Foundation.exp(-87.3) * 3e-7)
    }

    /// The sigmoid's reciprocal (an estimate and a Newton step with AVX-512) is within 2 ulp of
    /// the quotient over the range the sigmoid gives it, 1 to 2^126. Called through ModelRuntime,
    /// which is compiled for this CPU (the test module is not).
    func testReciprocalIsWithinTwoUlp() {
        var x = Float(1), worst: Float = 0
        while x < 0x1p126 {
            let xs = F16((0..<16).map { x * (1 + Float($0) / 16) })
            let got = VectorMath.reciprocal(xs)
            for k in 0..<16 {
                let exact = 1 / Double(xs[k])
                worst = max(worst, Float(abs(Double(got[k]) - exact) / Double(Float(exact).ulp)))
            }
            x *= 1.37
        }
        XCTAssertLessThanOrEqual(worst, 2, "largest error in ulp")
    }

    func testSigmoidMatchesTheScalarForm() {
        let xs: [Float] = (0..<400).map { Float($0) / 8 - 25 } + [-100, 100, .infinity, -.infinity]
        for start in stride(from: 0, to: xs.count - 7, by: 8) {
            let got = Sigmoid().vector(F8(xs[start..<start + 8]))
            for k in 0..<8 {
                let exact = 1 / (1 + Foundation.exp(-Double(xs[start + k])))
                XCTAssertEqual(Double(got[k]), exact, accuracy: 3e-7 * max(exact, 1e-30) + 1e-38, "x = \(xs[start + k])")
            }
        }
        XCTAssertTrue(Sigmoid().vector(F8(repeating: .nan))[0].isNaN)
    }
}

/// OpenBLAS's kernels: never its SSE3 fallback on a CPU with AVX2 or AVX-512 (unless the user
/// chose it with OPENBLAS_CORETYPE).
final class BLASKernelsTests: XCTestCase {
    func testKernelsMatchTheCPU() throws {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else {
            throw XCTSkip("OPENBLAS_CORETYPE is set: OpenBLAS uses the user's choice")
        }
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard flags.contains(" avx2") else { throw XCTSkip("no AVX2 here: OpenBLAS's own choice stands") }
        XCTAssertNotEqual(BLASKernels.coreName.lowercased(), "prescott")
        // And the GEMM still computes: [1 2; 3 4] · [5 6; 7 8].
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        sgemm(m: 2, n: 2, k: 2, a, lda: 2, b, ldb: 2, &c, ldc: 2, threads: 1)
        XCTAssertEqual(c, [19, 22, 43, 50])
        // One row: the matrix-vector path, with B transposed and not.
        var row = [Float](repeating: 0, count: 2)
        sgemm(transB: true, m: 1, n: 2, k: 2, [1, 2], lda: 2, b, ldb: 2, &row, ldc: 2, threads: 1)
        XCTAssertEqual(row, [17, 23])
        sgemm(m: 1, n: 2, k: 2, [1, 2], lda: 2, b, ldb: 2, &row, ldc: 2, threads: 1)
        XCTAssertEqual(row, [19, 22])
    }

    /// A matrix-vector product large enough to be split between threads (LeNet's 800 → 500 layer
    /// at batch 1) equals the sums in Double, with B transposed and not, on 1 and 2 threads.
    func testOneRowProductSplitBetweenThreads() {
        let (n, k) = (500, 800)
        // Small exact values (multiples of 1/8 in [-1, 1]): every sum is exact in Float and Double.
        let x: [Float] = (0..<k).map { i in Float((i * 7) % 17 - 8) / 8 }
        let w: [Float] = (0..<(n * k)).map { i in Float((i * 13) % 17 - 8) / 8 }  // [n, k]
        var wt = [Float](repeating: 0, count: k * n)                               // [k, n]
        for j in 0..<n { for i in 0..<k { wt[i * n + j] = w[j * k + i] } }
        var expected = [Double](repeating: 0, count: n)
        for j in 0..<n { for i in 0..<k { expected[j] += Double(x[i]) * Double(w[j * k + i]) } }
        for threads in [1, 2] {
            var y = [Float](repeating: .nan, count: n)
            sgemm(transB: true, m: 1, n: n, k: k, x, lda: k, w, ldb: k, &y, ldc: n, threads: threads)
            for j in 0..<n { XCTAssertEqual(Double(y[j]), expected[j], accuracy: 1e-3, "B transposed, \(threads) thread(s), column \(j)") }
            y = [Float](repeating: .nan, count: n)
            sgemm(m: 1, n: n, k: k, x, lda: k, wt, ldb: n, &y, ldc: n, threads: threads)
            for j in 0..<n { XCTAssertEqual(Double(y[j]), expected[j], accuracy: 1e-3, "B as it is, \(threads) thread(s), column \(j)") }
        }
    }
}
