#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Relu: UnaryFloatFunction {
    // NaN passes through (max(0, NaN) is NaN), as the vector path does; APoZ counts it apart.
    func scalar(_ x: Float) -> Float { x < 0 ? 0 : x }
    func vector(_ x: F8) -> F8 { x.replacing(with: 0, where: x .< 0) }
}
struct LeakyRelu: UnaryFloatFunction {
    var alpha: Float
    func scalar(_ x: Float) -> Float { x < 0 ? alpha * x : x }
    func vector(_ x: F8) -> F8 { x.replacing(with: x * alpha, where: x .< 0) }
}
/// x where x > alpha, else 0 (so 0 at x == alpha). NaN passes through, as in Relu, so APoZ does not
/// count it as a zero (onnxruntime's `x > alpha ? x : 0` would give 0).
struct ThresholdedRelu: UnaryFloatFunction {
    var alpha: Float
    func scalar(_ x: Float) -> Float { x <= alpha ? 0 : x }
    func vector(_ x: F8) -> F8 { x.replacing(with: 0, where: x .<= alpha) }
}
struct Elu: UnaryFloatFunction {
    var alpha: Float
    func scalar(_ x: Float) -> Float { x < 0 ? alpha * (expf(x) - 1) : x }
}
struct Selu: UnaryFloatFunction {
    var alpha: Float
    var gamma: Float
    func scalar(_ x: Float) -> Float { x <= 0 ? gamma * alpha * (expf(x) - 1) : gamma * x }
}
struct Clip: UnaryFloatFunction {
    var low: Float = -.greatestFiniteMagnitude
    var high: Float = .greatestFiniteMagnitude
    func scalar(_ x: Float) -> Float { x.isNaN ? x : Swift.min(Swift.max(x, low), high) }
    func vector(_ x: F8) -> F8 {
        x.replacing(with: F8(repeating: low), where: x .< low).replacing(with: F8(repeating: high), where: x .> high)
    }
}
struct Sigmoid: UnaryFloatFunction {
    func scalar(_ x: Float) -> Float { x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x)) }
    func vector(_ x: F8) -> F8 { VectorMath.sigmoid(x) }
}
struct HardSigmoid: UnaryFloatFunction {
    var alpha: Float
    var beta: Float
    func scalar(_ x: Float) -> Float { Swift.max(0, Swift.min(1, alpha * x + beta)) }
    func vector(_ x: F8) -> F8 {
        let v = x * alpha + beta
        return v.replacing(with: 0, where: v .< 0).replacing(with: 1, where: v .> 1)
    }
}
struct HardSwish: UnaryFloatFunction {
    func scalar(_ x: Float) -> Float { x * Swift.max(0, Swift.min(1, x / 6 + 0.5)) }
    func vector(_ x: F8) -> F8 { x * HardSigmoid(alpha: 1 / 6, beta: 0.5).vector(x) }
}
struct Shrink: UnaryFloatFunction {
    var lambda: Float = 0.5
    var bias: Float = 0
    func scalar(_ x: Float) -> Float { x < -lambda ? x + bias : (x > lambda ? x - bias : 0) }
}
struct Tanh: UnaryFloatFunction { func scalar(_ x: Float) -> Float { tanhf(x) } }
struct Softplus: UnaryFloatFunction {
    func scalar(_ x: Float) -> Float { x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)) }
}
struct Softsign: UnaryFloatFunction {
    func scalar(_ x: Float) -> Float { x / (1 + abs(x)) }
    func vector(_ x: F8) -> F8 { x / (1 + x.replacing(with: -x, where: x .< 0)) }
}
struct Gelu: UnaryFloatFunction {
    var tanhApproximation = false
    func scalar(_ x: Float) -> Float {
        if tanhApproximation {
            return 0.5 * x * (1 + tanhf(0.7978845608028654 * (x + 0.044715 * x * x * x)))
        }
        return 0.5 * x * (1 + erff(x * 0.7071067811865476))
    }
}

/// Softmax (or log-softmax) over the middle dimension of [outer, n, inner] data.
func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int, log: Bool,
             threads: Int) {
    parallelFor(outer * inner, threads: threads, cost: n * 8) { row in
        let o = row / inner, i = row % inner
        let base = o * n * inner + i
        var m = -Float.infinity
        for k in 0..<n { m = Swift.max(m, x[base + k * inner]) }
        var sum: Float = 0
        if log {
            for k in 0..<n { sum += expf(x[base + k * inner] - m) }
            let lse = m + logf(sum)
            for k in 0..<n { y[base + k * inner] = x[base + k * inner] - lse }
        } else {
            for k in 0..<n {
                let e = expf(x[base + k * inner] - m)
                y[base + k * inner] = e
                sum += e
            }
            let r = 1 / sum
            for k in 0..<n { y[base + k * inner] *= r }
        }
    }
}
