#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The reductions of the Reduce* operators.
enum ReductionKind: Sendable {
    case sum, mean, max, min, prod, sumSquare, l1, l2, logSum, logSumExp

    var initial: Float {
        switch self {
        case .max: return -.infinity
        case .min: return .infinity
        case .prod: return 1
        default: return 0
        }
    }

    @inline(__always)
    func combine(_ acc: Float, _ x: Float) -> Float {
        switch self {
        case .sum, .mean, .logSum: return acc + x
        case .max: return Swift.max(acc, x)
        case .min: return Swift.min(acc, x)
        case .prod: return acc * x
        case .sumSquare, .l2: return acc + x * x
        case .l1: return acc + abs(x)
        case .logSumExp: return acc + expf(x)
        }
    }

    @inline(__always)
    func finish(_ acc: Float, count: Int) -> Float {
        switch self {
        case .mean: return acc / Float(count)
        case .l2: return acc.squareRoot()
        case .logSum, .logSumExp: return logf(acc)
        default: return acc
        }
    }
}

/// Reduces the middle dimension of [outer, n, inner] data into [outer, inner].
func reduce(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int,
            kind: ReductionKind, threads: Int) {
    parallelFor(outer, threads: threads, cost: n * inner) { o in
        let out = y + o * inner
        out.initialize(repeating: kind.initial, count: inner)
        let src = x + o * n * inner
        if inner == 1 {
            var acc = kind.initial, r = 0
            if n >= 16 && (kind == .sum || kind == .mean || kind == .max || kind == .min) {
                // Eight lanes side by side (ShuffleNet's mean over a 7×7 map per channel went one
                // dependent add at a time), then the lanes into `acc`: kinds whose terms combine
                // in any order (up to rounding, for the sums), picking as Swift.max/min do.
                var lanes = F8(repeating: kind.initial)
                switch kind {
                case .max: while r + 8 <= n { let v = load8(src + r); lanes = lanes.replacing(with: v, where: v .>= lanes); r += 8 }
                case .min: while r + 8 <= n { let v = load8(src + r); lanes = lanes.replacing(with: v, where: v .< lanes); r += 8 }
                default: while r + 8 <= n { lanes += load8(src + r); r += 8 }
                }
                for k in 0..<8 { acc = kind.combine(acc, lanes[k]) }
            }
            while r < n { acc = kind.combine(acc, src[r]); r += 1 }
            out[0] = acc
        } else {
            for r in 0..<n {
                let row = src + r * inner
                for i in 0..<inner { out[i] = kind.combine(out[i], row[i]) }
            }
        }
        for i in 0..<inner { out[i] = kind.finish(out[i], count: n) }
    }
}
