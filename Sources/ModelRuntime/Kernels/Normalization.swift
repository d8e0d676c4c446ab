#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// y = clamp(x·scale[c] + shift[c], low, high) over [n, c, spatial] data (inference batch norm,
/// folded form, and a Relu or Clip fused after it), or over the same data channel-blocked.
func channelAffine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, scale: [Float], shift: [Float],
                   batch: Int, spatial: Int, low: Float = -.infinity, high: Float = .infinity, blocked: Bool = false,
                   threads: Int) {
    let channels = scale.count
    let bounded = low != -.infinity || high != .infinity
    if blocked {
        // [N, C/16, spatial, 16]: a vector of 16 channels' scale and shift per block.
        let lanes = BlockedLayout.lanes, blocks = channels / lanes
        let (lv, hv) = (F16(repeating: low), F16(repeating: high))
        parallelFor(batch * blocks, threads: threads, cost: spatial * lanes) { row in
            let b = row % blocks
            let sv = F16(scale[(b * lanes)..<(b * lanes + lanes)]), tv = F16(shift[(b * lanes)..<(b * lanes + lanes)])
            let xr = x + row * spatial * lanes, yr = y + row * spatial * lanes
            for p in 0..<spatial {
                let v = load16(xr + p * lanes) * sv + tv
                store16(bounded ? v.replacing(with: lv, where: v .< lv).replacing(with: hv, where: v .> hv) : v, yr + p * lanes)
            }
        }
        return
    }
    parallelFor(batch * channels, threads: threads, cost: spatial) { row in
        let c = row % channels
        let s = scale[c], t = shift[c]
        let sv = F8(repeating: s), tv = F8(repeating: t), lv = F8(repeating: low), hv = F8(repeating: high)
        let xr = x + row * spatial, yr = y + row * spatial
        var i = 0
        if bounded {
            // NaN passes, as in Relu and Clip.
            while i + 8 <= spatial {
                let v = load8(xr + i) * sv + tv
                store8(v.replacing(with: lv, where: v .< lv).replacing(with: hv, where: v .> hv), yr + i)
                i += 8
            }
            while i < spatial { let v = xr[i] * s + t; yr[i] = v < low ? low : (v > high ? high : v); i += 1 }
            return
        }
        while i + 8 <= spatial { store8(load8(xr + i) * sv + tv, yr + i); i += 8 }
        while i < spatial { yr[i] = xr[i] * s + t; i += 1 }
    }
}

/// Mean and biased variance of `n` values (two passes, in double for stability).
@inline(__always)
func meanVariance(_ x: UnsafePointer<Float>, _ n: Int) -> (Float, Float) {
    var sum = 0.0
    for i in 0..<n { sum += Double(x[i]) }
    let mean = sum / Double(max(n, 1))
    var sq = 0.0
    for i in 0..<n { let d = Double(x[i]) - mean; sq += d * d }
    return (Float(mean), Float(sq / Double(max(n, 1))))
}

/// Instance normalization over [n, c, spatial]: each (n, c) plane normalized by its own statistics.
func instanceNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, scale: UnsafePointer<Float>,
                  bias: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int, epsilon: Float, threads: Int) {
    parallelFor(batch * channels, threads: threads, cost: spatial * 3) { row in
        let c = row % channels
        let (mean, variance) = meanVariance(x + row * spatial, spatial)
        let a = scale[c] / (variance + epsilon).squareRoot()
        let b = bias[c] - mean * a
        for i in 0..<spatial { y[row * spatial + i] = x[row * spatial + i] * a + b }
    }
}

/// Layer normalization of `rows` rows of `n` values; optional per-row mean and 1/σ outputs.
func layerNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, scale: UnsafePointer<Float>,
               bias: UnsafePointer<Float>?, rows: Int, n: Int, epsilon: Float,
               meanOut: UnsafeMutablePointer<Float>?, invStdOut: UnsafeMutablePointer<Float>?, threads: Int) {
    parallelFor(rows, threads: threads, cost: n * 3) { r in
        let (mean, variance) = meanVariance(x + r * n, n)
        let inv = 1 / (variance + epsilon).squareRoot()
        meanOut?[r] = mean
        invStdOut?[r] = inv
        for i in 0..<n {
            let v = (x[r * n + i] - mean) * inv * scale[i]
            y[r * n + i] = bias.map { v + $0[i] } ?? v
        }
    }
}

/// Local response normalization across channels of [n, c, spatial] data.
func localResponseNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, channels: Int,
                       spatial: Int, size: Int, alpha: Float, beta: Float, bias: Float, threads: Int) {
    let before = (size - 1) / 2, after = size - 1 - before
    parallelFor(batch * channels, threads: threads, cost: spatial * size) { row in
        let n = row / channels, c = row % channels
        let lo = max(0, c - before), hi = min(channels - 1, c + after)
        for i in 0..<spatial {
            var sum: Float = 0
            if lo <= hi { for j in lo...hi { let v = x[(n * channels + j) * spatial + i]; sum += v * v } }
            y[row * spatial + i] = x[row * spatial + i] / powf(bias + alpha / Float(size) * sum, beta)
        }
    }
}
