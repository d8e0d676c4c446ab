/// How Resize maps an output coordinate back onto the input axis.
enum CoordinateTransform: String, Sendable {
    case halfPixel = "half_pixel", pytorchHalfPixel = "pytorch_half_pixel", alignCorners = "align_corners"
    case asymmetric, tfHalfPixelForNN = "tf_half_pixel_for_nn", halfPixelSymmetric = "half_pixel_symmetric"

    @inline(__always)
    func inputCoordinate(_ o: Int, scale: Float, inLength: Int, outLength: Int) -> Float {
        let x = Float(o)
        switch self {
        case .halfPixel: return (x + 0.5) / scale - 0.5
        case .pytorchHalfPixel: return outLength > 1 ? (x + 0.5) / scale - 0.5 : 0
        // The specification divides by in·scale − 1, not by the rounded output length − 1: they
        // differ when scales (not sizes) give a length that is not a whole number.
        case .alignCorners:
            let span = Float(inLength) * scale - 1
            return outLength == 1 || span <= 0 ? 0 : x * Float(inLength - 1) / span
        case .asymmetric: return x / scale
        case .tfHalfPixelForNN: return (x + 0.5) / scale
        // Opset 19: half_pixel about the axis centre, for outputs whose length was rounded.
        case .halfPixelSymmetric:
            let adjustment = Float(outLength) / (scale * Float(inLength))
            let offset = Float(inLength) / 2 * (1 - adjustment)
            return offset + (x + 0.5) / scale - 0.5
        }
    }
}

/// How nearest-neighbour Resize rounds a fractional input coordinate.
enum NearestMode: String, Sendable {
    case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil

    @inline(__always)
    func round(_ x: Float) -> Int {
        switch self {
        case .floor: return Int(x.rounded(.down))
        case .ceil: return Int(x.rounded(.up))
        case .roundPreferFloor: return x == x.rounded(.down) + 0.5 ? Int(x.rounded(.down)) : Int(x.rounded(.toNearestOrAwayFromZero))
        case .roundPreferCeil: return x == x.rounded(.down) + 0.5 ? Int(x.rounded(.up)) : Int(x.rounded(.toNearestOrAwayFromZero))
        }
    }
}

/// Resize's interpolation between input positions.
enum ResizeInterpolation: Sendable {
    case nearest(NearestMode)
    case linear
    /// Keys' cubic convolution with coefficient `a`; with `excludeOutside`, taps outside the input
    /// get weight 0 and the others are renormalised.
    case cubic(a: Float, excludeOutside: Bool)
}

/// Per output position of one axis: the input positions read and the weight of the second one
/// (0 for nearest); for cubic, four taps per position in `taps`/`tapWeights` instead.
struct AxisSampling {
    var first: [Int] = [], second: [Int] = [], weight: [Float] = []
    var taps: [Int] = [], tapWeights: [Float] = []

    init(inLength: Int, outLength: Int, scale: Float, transform: CoordinateTransform, interpolation: ResizeInterpolation) {
        for o in 0..<outLength {
            let x = transform.inputCoordinate(o, scale: scale, inLength: inLength, outLength: outLength)
            switch interpolation {
            case .nearest(let nearest):
                let i = min(max(nearest.round(x), 0), inLength - 1)
                first.append(i); second.append(i); weight.append(0)
            case .linear:
                let c = min(max(x, 0), Float(inLength - 1))
                let i0 = Int(c.rounded(.down))
                first.append(i0); second.append(min(i0 + 1, inLength - 1)); weight.append(c - Float(i0))
            case .cubic(let a, let excludeOutside):
                let i0 = Int(x.rounded(.down)), t = x - Float(i0)
                var w = [1 + t, t, 1 - t, 2 - t].map { AxisSampling.cubicWeight($0, a) }
                let index = (i0 - 1...i0 + 2).map { $0 }
                if excludeOutside {
                    for k in 0..<4 where index[k] < 0 || index[k] >= inLength { w[k] = 0 }
                    let sum = w.reduce(0, +)
                    if sum != 0 { w = w.map { $0 / sum } }
                }
                taps += index.map { min(max($0, 0), inLength - 1) }
                tapWeights += w
            }
        }
    }

    /// The cubic convolution kernel at distance `d` (Keys 1981, as ONNX defines it).
    static func cubicWeight(_ d: Float, _ a: Float) -> Float {
        let d = abs(d)
        if d <= 1 { return ((a + 2) * d - (a + 3)) * d * d + 1 }
        if d < 2 { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
        return 0
    }
}

/// Resamples the middle axis of [outer, inLength, inner] data to [outer, outLength, inner].
func resampleAxis(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, inLength: Int, inner: Int,
                  _ s: AxisSampling, threads: Int) {
    if !s.taps.isEmpty { return resampleCubic(x, y, outer: outer, inLength: inLength, inner: inner, s, threads: threads) }
    let outLength = s.first.count
    parallelFor(outer, threads: threads, cost: outLength * inner) { o in
        let src = x + o * inLength * inner, dst = y + o * outLength * inner
        for k in 0..<outLength {
            let a = src + s.first[k] * inner, out = dst + k * inner
            let w = s.weight[k]
            if w == 0 {
                out.update(from: a, count: inner)
            } else {
                let b = src + s.second[k] * inner
                for i in 0..<inner { out[i] = a[i] + (b[i] - a[i]) * w }
            }
        }
    }
}

/// The four-tap form of `resampleAxis` (cubic).
private func resampleCubic(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, inLength: Int, inner: Int,
                           _ s: AxisSampling, threads: Int) {
    let outLength = s.taps.count / 4
    parallelFor(outer, threads: threads, cost: 4 * outLength * inner) { o in
        let src = x + o * inLength * inner, dst = y + o * outLength * inner
        for k in 0..<outLength {
            let out = dst + k * inner
            let (p0, p1, p2, p3) = (src + s.taps[4 * k] * inner, src + s.taps[4 * k + 1] * inner,
                                    src + s.taps[4 * k + 2] * inner, src + s.taps[4 * k + 3] * inner)
            let (w0, w1, w2, w3) = (s.tapWeights[4 * k], s.tapWeights[4 * k + 1], s.tapWeights[4 * k + 2], s.tapWeights[4 * k + 3])
            for i in 0..<inner { out[i] = w0 * p0[i] + w1 * p1[i] + w2 * p2[i] + w3 * p3[i] }
        }
    }
}
