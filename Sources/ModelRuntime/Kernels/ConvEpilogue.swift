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

    /// The epilogue in the form register-blocked kernels apply to their sums before storing them
    /// (`Finish`), with each group's channels padded to `width` by identity entries: entry
    /// g·width + k is channel g·perGroup + k.
    func finish(groups: Int, perGroup: Int, width: Int) -> Finish {
        var s = [Float](repeating: 1, count: groups * width), t = [Float](repeating: 0, count: groups * width)
        for g in 0..<groups {
            for k in 0..<perGroup {
                s[g * width + k] = scale?[g * perGroup + k] ?? 1
                t[g * width + k] = shift?[g * perGroup + k] ?? 0
            }
        }
        return Finish(scale: s, shift: t, scaled: scale != nil, low: low, high: high)
    }

    /// For kernels that applied the epilogue in registers (`Finish`): called exactly once per
    /// finished (image, channel) plane, like `apply`, but the values are final already.
    @inline(__always)
    func finished(_ y: UnsafeMutablePointer<Float>, image: Int, channel c: Int, count n: Int) {}

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

/// A `ConvEpilogue` as per-channel constants, for kernels that finish 16 sums at a time in
/// registers: v·scale + shift (v + shift when there is no scale, exactly as an unfused Add),
/// then the bounds, with NaN passing as in Relu/Clip.
struct Finish {
    let scale: [Float], shift: [Float]
    let scaled: Bool
    let low: F16, high: F16

    init(scale: [Float], shift: [Float], scaled: Bool, low: Float, high: Float) {
        (self.scale, self.shift, self.scaled) = (scale, shift, scaled)
        (self.low, self.high) = (F16(repeating: low), F16(repeating: high))
    }

    /// The bounds and the scaling mode without the arrays, for the inner loops.
    var rule: FinishRule { FinishRule(scaled: scaled, low: low, high: high) }
}

/// How `Finish` treats 16 sums given their channels' scale and shift.
struct FinishRule {
    let scaled: Bool
    let low: F16, high: F16

    @inline(__always)
    func callAsFunction(_ v: F16, _ s: F16, _ t: F16) -> F16 {
        let u = scaled ? v * s + t : v + t
        return u.replacing(with: low, where: u .< low).replacing(with: high, where: u .> high)
    }
}
