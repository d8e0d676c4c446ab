/// How Resize maps an output coordinate back onto the input axis.
enum CoordinateTransform: String, Sendable {
    case halfPixel = "half_pixel", pytorchHalfPixel = "pytorch_half_pixel", alignCorners = "align_corners"
    case asymmetric, tfHalfPixelForNN = "tf_half_pixel_for_nn"

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

/// Per output position of one axis: the input positions read and the weight of the second one
/// (0 for nearest).
struct AxisSampling {
    var first: [Int] = [], second: [Int] = [], weight: [Float] = []

    init(inLength: Int, outLength: Int, scale: Float, transform: CoordinateTransform, nearest: NearestMode?) {
        for o in 0..<outLength {
            let x = transform.inputCoordinate(o, scale: scale, inLength: inLength, outLength: outLength)
            if let nearest {
                let i = min(max(nearest.round(x), 0), inLength - 1)
                first.append(i); second.append(i); weight.append(0)
            } else {
                let c = min(max(x, 0), Float(inLength - 1))
                let i0 = Int(c.rounded(.down))
                first.append(i0); second.append(min(i0 + 1, inLength - 1)); weight.append(c - Float(i0))
            }
        }
    }
}

/// Resamples the middle axis of [outer, inLength, inner] data to [outer, outLength, inner].
func resampleAxis(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, inLength: Int, inner: Int,
                  _ s: AxisSampling, threads: Int) {
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
