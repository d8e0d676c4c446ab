/// What a convolution does to each output channel before storing it:
/// y = activation(y·scale[c] + shift[c]). It carries the bias, and a following inference batch
/// norm and ReLU or Clip when the interpreter fuses them, so the output is finished while it is
/// still in cache instead of in separate passes over memory.
struct ConvEpilogue {
    var scale: [Float]?
    var shift: [Float]?
    /// Values below `low` become `low`, above `high` become `high` (NaN passes, as in Relu/Clip).
    var low = -Float.infinity, high = Float.infinity

    init(scale: [Float]? = nil, shift: [Float]? = nil, low: Float = -.infinity, high: Float = .infinity) {
        self.scale = scale
        self.shift = shift
        self.low = low
        self.high = high
    }

    /// Just a bias (or nothing).
    init(bias: UnsafePointer<Float>?, channels: Int) {
        shift = bias.map { Array(UnsafeBufferPointer(start: $0, count: channels)) }
    }

    var isIdentity: Bool { scale == nil && shift == nil && low == -.infinity && high == .infinity }

    /// Applies channel `c`'s epilogue to the `n` values of image `image`'s plane of that channel,
    /// in place. Kernels call it exactly once per (image, channel) plane, with the whole plane.
    @inline(__always)
    func apply(_ y: UnsafeMutablePointer<Float>, image: Int, channel c: Int, count n: Int) {
        let s = scale?[c] ?? 1, t = shift?[c] ?? 0
        let sv = F8(repeating: s), tv = F8(repeating: t), lv = F8(repeating: low), hv = F8(repeating: high)
        var i = 0
        if scale == nil {
            // Bias only: y + t exactly, as an unfused Add would compute it.
            while i + 8 <= n {
                let v = load8(y + i) + tv
                store8(v.replacing(with: lv, where: v .< lv).replacing(with: hv, where: v .> hv), y + i)
                i += 8
            }
            while i < n { y[i] = clamp(y[i] + t); i += 1 }
        } else {
            while i + 8 <= n {
                let v = load8(y + i) * sv + tv
                store8(v.replacing(with: lv, where: v .< lv).replacing(with: hv, where: v .> hv), y + i)
                i += 8
            }
            while i < n { y[i] = clamp(y[i] * s + t); i += 1 }
        }
    }

    @inline(__always)
    private func clamp(_ v: Float) -> Float { v < low ? low : (v > high ? high : v) }
}
