/// What a convolution does to each output channel before storing it:
/// y = g(clamp(y·scale[c] + shift[c])). It carries the bias, and a following inference batch
/// norm, ReLU or Clip, and a smooth activation g (SiLU, Sigmoid, HardSwish, HardSigmoid) when the
/// interpreter fuses them, so the output is finished while it is still in cache instead of in
/// separate passes over memory. With `statistics` it also counts
/// each finished plane there (zeros, non-finite values, sums: APoZ) before it leaves the cache.
struct ConvEpilogue {
    var scale: [Float]?
    var shift: [Float]?
    /// Values below `low` become `low`, above `high` become `high` (NaN passes, as in Relu/Clip).
    var low = -Float.infinity, high = Float.infinity
    /// Applied last, after the bounds.
    var activation = EpilogueActivation.none
    /// Where each finished plane's statistics go, when the output's are wanted.
    var statistics: PlaneStatisticsSink?

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

    /// Whether `apply` changes no value.
    var keepsValues: Bool {
        scale == nil && shift == nil && low == -.infinity && high == .infinity && activation.kind == .none
    }

    /// Whether kernels may skip `apply`: it neither changes values nor counts them.
    var isIdentity: Bool { keepsValues && statistics == nil }

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
        let mode: FinishRule.Mode = scale != nil ? .affine : (shift != nil ? .bias : .bounds)
        return Finish(scale: s, shift: t, rule: FinishRule(mode: mode, low: F16(repeating: low), high: F16(repeating: high),
                                                           activation: activation))
    }

    /// For kernels that applied the epilogue in registers (`Finish`): called exactly once per
    /// finished (image, channel) plane, like `apply`, with values that are final already; counts
    /// the plane into `statistics` while it is in cache.
    @inline(__always)
    func finished(_ y: UnsafeMutablePointer<Float>, image: Int, channel c: Int, count n: Int) {
        guard let statistics else { return }
        statistics.record(PlaneStatistics(y, count: n, region: statistics.region), image: image, channel: c)
    }

    /// Applies channel `c`'s epilogue to the `n` values of image `image`'s plane of that channel,
    /// in place, counting the results into `statistics` in the same loop. Kernels call it exactly
    /// once per (image, channel) plane, with the whole plane.
    @inline(__always)
    func apply(_ y: UnsafeMutablePointer<Float>, image: Int, channel c: Int, count n: Int) {
        if activation.kind != .none {
            finish(y, image, c, n, AffineActivation(scale?[c] ?? 1, shift?[c] ?? 0, low, high, activation, affine: scale != nil))
        } else if let scale {
            finish(y, image, c, n, AffineClamp(scale[c], shift?[c] ?? 0, low, high))
        } else if !keepsValues {
            // Bias only: y + t exactly, as an unfused Add would compute it.
            finish(y, image, c, n, BiasClamp(shift?[c] ?? 0, low, high))
        } else if let statistics {
            statistics.record(PlaneStatistics(y, count: n, region: statistics.region), image: image, channel: c)
        }
    }

    /// y = f(y) over the plane, vectors then a scalar tail, counted when statistics are wanted.
    @inline(__always)
    private func finish<F: UnaryFloatFunction>(_ y: UnsafeMutablePointer<Float>, _ image: Int, _ c: Int, _ n: Int, _ f: F) {
        if let statistics {
            statistics.record(statistics.count(y, count: n, mapping: f, into: y), image: image, channel: c)
            return
        }
        var i = 0
        while i + 8 <= n {
            store8(f.vector(load8(y + i)), y + i)
            i += 8
        }
        while i < n { y[i] = f.scalar(y[i]); i += 1 }
    }
}

/// clamp(x + t): a bias (or nothing) and the bounds.
private struct BiasClamp: UnaryFloatFunction {
    let t: Float, low: Float, high: Float
    let tv: F8, lv: F8, hv: F8
    @inline(__always) init(_ t: Float, _ low: Float, _ high: Float) {
        (self.t, self.low, self.high) = (t, low, high)
        (tv, lv, hv) = (F8(repeating: t), F8(repeating: low), F8(repeating: high))
    }
    @inline(__always) func scalar(_ x: Float) -> Float {
        let v = x + t
        return v < low ? low : (v > high ? high : v)
    }
    @inline(__always) func vector(_ x: F8) -> F8 {
        let v = x + tv
        return v.replacing(with: lv, where: v .< lv).replacing(with: hv, where: v .> hv)
    }
}

/// clamp(x·s + t): a batch norm folded with the bias, and the bounds.
private struct AffineClamp: UnaryFloatFunction {
    let s: Float, t: Float, low: Float, high: Float
    let sv: F8, tv: F8, lv: F8, hv: F8
    @inline(__always) init(_ s: Float, _ t: Float, _ low: Float, _ high: Float) {
        (self.s, self.t, self.low, self.high) = (s, t, low, high)
        (sv, tv, lv, hv) = (F8(repeating: s), F8(repeating: t), F8(repeating: low), F8(repeating: high))
    }
    @inline(__always) func scalar(_ x: Float) -> Float {
        let v = x * s + t
        return v < low ? low : (v > high ? high : v)
    }
    @inline(__always) func vector(_ x: F8) -> F8 {
        let v = x * sv + tv
        return v.replacing(with: lv, where: v .< lv).replacing(with: hv, where: v .> hv)
    }
}

/// The smooth activation a fused epilogue applies last. NaN passes through each.
struct EpilogueActivation: Equatable {
    enum Kind: Equatable {
        case none
        /// x·σ(x) (SiLU/Swish, as x·Sigmoid(x) in ONNX).
        case swish
        /// σ(x) = 1 / (1 + e^−x).
        case sigmoid
        /// x·max(0, min(1, αx + β)) (HardSwish: α = 1/6, β = 1/2).
        case hardSwish
        /// max(0, min(1, αx + β)).
        case hardSigmoid
    }
    var kind: Kind
    var alpha: Float = 1 / 6, beta: Float = 0.5

    static let none = EpilogueActivation(kind: .none), swish = EpilogueActivation(kind: .swish)
    static let sigmoid = EpilogueActivation(kind: .sigmoid), hardSwish = EpilogueActivation(kind: .hardSwish)
    static func hardSigmoid(alpha: Float, beta: Float) -> EpilogueActivation {
        EpilogueActivation(kind: .hardSigmoid, alpha: alpha, beta: beta)
    }

    @inline(__always)
    func scalar(_ v: Float) -> Float {
        switch kind {
        case .none: return v
        case .swish: return v * Sigmoid().scalar(v)
        case .sigmoid: return Sigmoid().scalar(v)
        case .hardSwish: return v * HardSigmoid(alpha: alpha, beta: beta).scalar(v)
        case .hardSigmoid: return HardSigmoid(alpha: alpha, beta: beta).scalar(v)
        }
    }

    @inline(__always)
    func vector(_ v: F8) -> F8 { kind == .none ? v : vector(F16(lowHalf: v, highHalf: v)).lowHalf }

    @inline(__always)
    func vector(_ v: F16) -> F16 {
        switch kind {
        case .none: return v
        case .swish: return v * VectorMath.sigmoid(v)
        case .sigmoid: return VectorMath.sigmoid(v)
        case .hardSwish, .hardSigmoid:
            var g = v * alpha + beta
            g = g.replacing(with: 0, where: g .< 0).replacing(with: 1, where: g .> 1)
            return kind == .hardSwish ? v * g : g
        }
    }
}

/// g(clamp(x·s + t)) (or g(clamp(x + t)) without a batch norm, adding exactly as an unfused Add).
private struct AffineActivation: UnaryFloatFunction {
    let s: Float, t: Float, low: Float, high: Float, g: EpilogueActivation, affine: Bool
    let sv: F8, tv: F8, lv: F8, hv: F8
    @inline(__always) init(_ s: Float, _ t: Float, _ low: Float, _ high: Float, _ g: EpilogueActivation, affine: Bool) {
        (self.s, self.t, self.low, self.high, self.g, self.affine) = (s, t, low, high, g, affine)
        (sv, tv, lv, hv) = (F8(repeating: s), F8(repeating: t), F8(repeating: low), F8(repeating: high))
    }
    @inline(__always) func scalar(_ x: Float) -> Float {
        let v = affine ? x * s + t : x + t
        return g.scalar(v < low ? low : (v > high ? high : v))
    }
    @inline(__always) func vector(_ x: F8) -> F8 {
        let v = affine ? x * sv + tv : x + tv
        return g.vector(v.replacing(with: lv, where: v .< lv).replacing(with: hv, where: v .> hv))
    }
}

/// A `ConvEpilogue` as per-channel constants, for kernels that finish 16 sums at a time in
/// registers, computing exactly what `apply` computes.
struct Finish {
    let scale: [Float], shift: [Float]
    /// The mode and bounds, without the arrays, for the inner loops.
    let rule: FinishRule
}

/// How `Finish` treats 16 sums given their channels' scale and shift, then the bounds (NaN
/// passes, as in Relu/Clip).
struct FinishRule {
    enum Mode {
        /// v·scale + shift: a batch norm folded with the bias.
        case affine
        /// v + shift: a bias alone, exactly as an unfused Add.
        case bias
        /// Neither (adding 0 would turn −0 into +0).
        case bounds
    }
    let mode: Mode
    let low: F16, high: F16
    var activation = EpilogueActivation.none

    @inline(__always)
    func callAsFunction(_ v: F16, _ s: F16, _ t: F16) -> F16 {
        let u: F16
        switch mode {
        case .affine: u = v * s + t
        case .bias: u = v + t
        case .bounds: u = v
        }
        return activation.vector(u.replacing(with: low, where: u .< low).replacing(with: high, where: u .> high))
    }
}
