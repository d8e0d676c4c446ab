import CBLAS

/// e^x and the logistic function over SIMD lanes, for the activations that need them (Sigmoid,
/// SiLU, Elu, Softplus …): a lane-wise `expf` costs about 10 ns a value here, and EfficientNet's
/// Sigmoids took 70 % of its time with it.
///
/// e^x = 2^n · e^r with n = round(x·log2 e) and r = x − n·ln 2 (ln 2 split in two parts, so r is
/// exact to a few ulp), |r| ≤ ln 2 / 2, and e^r from the degree-6 minimax polynomial of Cephes'
/// expf. 2^n is built in the exponent bits. Error within 2 ulp of the true value over the normal
/// range (checked against the C library's in VectorMathTests). Below −87.34 the result is 0 (no
/// subnormal results), above 88.72 it is +∞; NaN gives NaN. Written for `F16` alone: a form generic over
/// `SIMD` compiled to lane loops and ran 5× slower (0.6 ns a value here for F16, 3.7 generic).
enum VectorMath {
    static let maxArgument: Float = 88.72283935546875
    static let minArgument: Float = -87.33654475059264

    /// The rounding constant 1.5·2^23: v·log2 e + magic holds round-to-nearest(v·log2 e) in its
    /// low mantissa bits.
    private static let magic: Float = 12_582_912

    @inline(__always)
    static func exp(_ x: F16) -> F16 {
        // n within [−126, 128]; the lanes outside the range are replaced at the end.
        let v = x.replacing(with: minArgument, where: x .< minArgument).replacing(with: maxArgument, where: x .> maxArgument)
        let (p, t) = reduced(v)
        // p·2^⌊n/2⌋ first: 2^128 itself would overflow.
        let (low, high) = twoTo(t)
        let scaled = p * low * high
        // NaN compares false both ways and passes through `scaled` (NaN arithmetic).
        return scaled.replacing(with: .infinity, where: x .> maxArgument).replacing(with: 0, where: x .< minArgument)
    }

    /// e^r for r = v − n·ln 2, and t = n + magic: e^v = p · 2^n.
    @inline(__always)
    private static func reduced(_ v: F16) -> (p: F16, t: F16) {
        // Fused multiply-adds throughout (`c.addingProduct(a, b)` = c + a·b, one rounding): Swift
        // does not contract `a * b + c`, and compiled each step as a multiply and an add.
        let t = F16(repeating: magic).addingProduct(v, F16(repeating: 1.44269504088896341))
        let n = t - magic
        var r = v.addingProduct(n, F16(repeating: -0.693359375))
        r = r.addingProduct(n, F16(repeating: 2.12194440e-4))
        var p = F16(repeating: 1.3981999507e-3).addingProduct(r, F16(repeating: 1.9875691500e-4))
        p = F16(repeating: 8.3334519073e-3).addingProduct(p, r)
        p = F16(repeating: 4.1665795894e-2).addingProduct(p, r)
        p = F16(repeating: 1.6666665459e-1).addingProduct(p, r)
        p = F16(repeating: 5.0000001201e-1).addingProduct(p, r)
        p = (r + 1).addingProduct(p, r * r)
        return (p, t)
    }

    /// The n held in the low bits of t = n + 1.5·2^23.
    @inline(__always)
    private static func exponent(_ t: F16) -> SIMD16<Int32> {
        unsafeBitCast(t, to: SIMD16<Int32>.self) &- SIMD16<Int32>(repeating: Int32(bitPattern: magic.bitPattern))
    }

    /// 2^n for the n held in the low bits of t = n + 1.5·2^23, −126 ≤ n ≤ 128, as 2^⌊n/2⌋ · 2^⌈n/2⌉:
    /// each factor is a normal float (2^128 alone is not), built in the exponent field.
    @inline(__always)
    private static func twoTo(_ t: F16) -> (F16, F16) {
        let n = exponent(t)
        let half = n &>> 1
        return (unsafeBitCast((half &+ 127) &<< 23, to: F16.self), unsafeBitCast((n &- half &+ 127) &<< 23, to: F16.self))
    }

    /// 1 / (1 + e^−x): 0 (or a subnormal) for x below about −88, 1 above about 17, NaN for NaN.
    /// −x is held in [minArgument, 88], where e^−x is finite and 2^n a normal float (n ≤ 127), so
    /// neither exp's fix-ups nor its two factors are needed: beyond those bounds σ is already 0
    /// or 1 to float precision. The reciprocal is `modeltool_reciprocal16` (an estimate and a
    /// Newton step with AVX-512): with the division and exp's extra steps, a fused 16 → 96
    /// Conv+SiLU on 112×112 took 1.3–1.6 ms per image, now 1.0–1.1.
    @inline(__always)
    static func sigmoid(_ x: F16) -> F16 {
        let m = -x
        let v = m.replacing(with: minArgument, where: m .< minArgument).replacing(with: 88, where: m .> 88)
        let (p, t) = reduced(v)
        let e = p * unsafeBitCast((exponent(t) &+ 127) &<< 23, to: F16.self)
        return reciprocal(1 + e)
    }

    /// 1/x as the sigmoid takes it (`modeltool_reciprocal16`, compiled for this module's CPU).
    @inline(__always)
    static func reciprocal(_ x: F16) -> F16 { modeltool_reciprocal16(x) }

    /// The same for 8 lanes, computed as 16 (one 512-bit vector costs about what 256 bits do).
    @inline(__always)
    static func sigmoid(_ x: F8) -> F8 {
        sigmoid(F16(lowHalf: x, highHalf: x)).lowHalf
    }
}
