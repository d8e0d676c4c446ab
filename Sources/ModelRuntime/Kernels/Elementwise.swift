#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

typealias F8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
@inline(__always) func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self) }

/// A float binary operation with a scalar and an 8-lane form.
protocol BinaryFloatOp {
    static func scalar(_ a: Float, _ b: Float) -> Float
    static func vector(_ a: F8, _ b: F8) -> F8
}

extension BinaryFloatOp {
    static func vector(_ a: F8, _ b: F8) -> F8 {
        var r = F8()
        for k in 0..<8 { r[k] = scalar(a[k], b[k]) }
        return r
    }
}

enum AddOp: BinaryFloatOp {
    static func scalar(_ a: Float, _ b: Float) -> Float { a + b }
    static func vector(_ a: F8, _ b: F8) -> F8 { a + b }
}
enum SubOp: BinaryFloatOp {
    static func scalar(_ a: Float, _ b: Float) -> Float { a - b }
    static func vector(_ a: F8, _ b: F8) -> F8 { a - b }
}
enum MulOp: BinaryFloatOp {
    static func scalar(_ a: Float, _ b: Float) -> Float { a * b }
    static func vector(_ a: F8, _ b: F8) -> F8 { a * b }
}
enum DivOp: BinaryFloatOp {
    static func scalar(_ a: Float, _ b: Float) -> Float { a / b }
    static func vector(_ a: F8, _ b: F8) -> F8 { a / b }
}
enum PowOp: BinaryFloatOp {
    static func scalar(_ a: Float, _ b: Float) -> Float { b == 2 ? a * a : powf(a, b) }
}
enum MaxOp: BinaryFloatOp {
    static func scalar(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }
}
enum MinOp: BinaryFloatOp {
    static func scalar(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }
}
/// PRelu: x where x ≥ 0, slope·x elsewhere.
enum PReluOp: BinaryFloatOp {
    static func scalar(_ a: Float, _ b: Float) -> Float { a < 0 ? a * b : a }
    static func vector(_ a: F8, _ b: F8) -> F8 { a.replacing(with: a * b, where: a .< 0) }
}

/// One row of a broadcast binary operation: each operand has stride 1 or 0 (repeated scalar).
@inline(__always)
func binaryRow<Op: BinaryFloatOp>(_: Op.Type, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>,
                                  _ sb: Int, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    switch (sa, sb) {
    case (1, 1):
        while i + 8 <= n { store8(Op.vector(load8(a + i), load8(b + i)), y + i); i += 8 }
        while i < n { y[i] = Op.scalar(a[i], b[i]); i += 1 }
    case (1, _):
        let bs = b[0], bv = F8(repeating: bs)
        while i + 8 <= n { store8(Op.vector(load8(a + i), bv), y + i); i += 8 }
        while i < n { y[i] = Op.scalar(a[i], bs); i += 1 }
    case (_, 1):
        let s = a[0], av = F8(repeating: s)
        while i + 8 <= n { store8(Op.vector(av, load8(b + i)), y + i); i += 8 }
        while i < n { y[i] = Op.scalar(s, b[i]); i += 1 }
    default:
        let v = Op.scalar(a[0], b[0])
        while i < n { y[i] = v; i += 1 }
    }
}

/// y = a ∘ b with numpy broadcasting. `y` may be `a`'s storage when a has the output's shape.
func binaryFloat<Op: BinaryFloatOp>(_ op: Op.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                    _ y: UnsafeMutablePointer<Float>, layout: BroadcastLayout, threads: Int) {
    let n = layout.rowLength
    let sa = layout.aStrides.last!, sb = layout.bStrides.last!
    if layout.rows == 1 {
        // One long row: split it across threads.
        parallelChunks(n, threads: threads) { r in
            binaryRow(op, a + (sa == 0 ? 0 : r.lowerBound), sa, b + (sb == 0 ? 0 : r.lowerBound), sb,
                      y + r.lowerBound, r.count)
        }
        return
    }
    parallelChunks(layout.rows, threads: threads, cost: n) { rows in
        for r in rows {
            let (oa, ob) = layout.rowOffsets(r)
            binaryRow(op, a + oa, sa, b + ob, sb, y + r * n, n)
        }
    }
}

/// y = max(a + b, 0) element by element (NaN passes, as in Relu), in one pass.
func addRelu(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
             threads: Int) {
    parallelChunks(count, threads: threads, cost: 2) { r in
        var i = r.lowerBound
        while i + 8 <= r.upperBound { store8(Relu().vector(load8(a + i) + load8(b + i)), y + i); i += 8 }
        while i < r.upperBound { y[i] = Relu().scalar(a[i] + b[i]); i += 1 }
    }
}

/// Integer binary operations for shape arithmetic.
enum IntBinary {
    case add, sub, mul, div, max, min

    @inline(__always)
    func apply(_ a: Int64, _ b: Int64) -> Int64 {
        switch self {
        case .add: return a &+ b
        case .sub: return a &- b
        case .mul: return a &* b
        case .div: return b == 0 ? 0 : (a == .min && b == -1 ? .min : a / b)
        case .max: return Swift.max(a, b)
        case .min: return Swift.min(a, b)
        }
    }
}

/// y = a ∘ b over int64 with numpy broadcasting (small shape tensors; not vectorised).
func binaryInt(_ op: IntBinary, _ a: UnsafePointer<Int64>, _ b: UnsafePointer<Int64>, _ y: UnsafeMutablePointer<Int64>,
               layout: BroadcastLayout) {
    let n = layout.rowLength
    let sa = layout.aStrides.last!, sb = layout.bStrides.last!
    for r in 0..<layout.rows {
        let (oa, ob) = layout.rowOffsets(r)
        for k in 0..<n { y[r * n + k] = op.apply(a[oa + k * sa], b[ob + k * sb]) }
    }
}

/// A float function applied element by element, with an 8-lane form where one is cheap.
protocol UnaryFloatFunction {
    func scalar(_ x: Float) -> Float
    func vector(_ x: F8) -> F8
}

extension UnaryFloatFunction {
    func vector(_ x: F8) -> F8 {
        var r = F8()
        for k in 0..<8 { r[k] = scalar(x[k]) }
        return r
    }
}

/// y[i] = f(x[i]); `y` may be `x`.
func mapUnary<F: UnaryFloatFunction>(_ f: F, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                                     threads: Int) {
    parallelChunks(count, threads: threads, cost: 4) { r in
        var i = r.lowerBound
        while i + 8 <= r.upperBound { store8(f.vector(load8(x + i)), y + i); i += 8 }
        while i < r.upperBound { y[i] = f.scalar(x[i]); i += 1 }
    }
}

struct Negate: UnaryFloatFunction {
    func scalar(_ x: Float) -> Float { -x }
    func vector(_ x: F8) -> F8 { -x }
}
struct Absolute: UnaryFloatFunction {
    func scalar(_ x: Float) -> Float { abs(x) }
    func vector(_ x: F8) -> F8 { x.replacing(with: -x, where: x .< 0) }
}
struct Reciprocal: UnaryFloatFunction {
    func scalar(_ x: Float) -> Float { 1 / x }
    func vector(_ x: F8) -> F8 { 1 / x }
}
struct SquareRoot: UnaryFloatFunction {
    func scalar(_ x: Float) -> Float { x.squareRoot() }
    func vector(_ x: F8) -> F8 { x.squareRoot() }
}
struct Exponential: UnaryFloatFunction { func scalar(_ x: Float) -> Float { expf(x) } }
struct Logarithm: UnaryFloatFunction { func scalar(_ x: Float) -> Float { logf(x) } }
struct Floor: UnaryFloatFunction { func scalar(_ x: Float) -> Float { x.rounded(.down) } }
struct Ceil: UnaryFloatFunction { func scalar(_ x: Float) -> Float { x.rounded(.up) } }
struct Sign: UnaryFloatFunction { func scalar(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) } }
struct ErrorFunction: UnaryFloatFunction { func scalar(_ x: Float) -> Float { erff(x) } }
