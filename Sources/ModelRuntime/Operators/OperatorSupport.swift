import ModelIR

/// A planned operator: reads its inputs (nil for omitted optional ones) and returns its outputs.
typealias OperatorFunction = (_ inputs: [RuntimeTensor?], _ ctx: ExecContext) throws -> [RuntimeTensor]
/// Parses a node's attributes once (for the model's opset) and returns the function to run it.
typealias OperatorFactory = @Sendable (_ node: Node, _ opset: Int) throws -> OperatorFunction

extension Array where Element == RuntimeTensor? {
    /// Input `i`, which the operator requires.
    func required(_ i: Int) throws -> RuntimeTensor {
        guard i < count, let t = self[i] else { throw ModelError("required input \(i) is missing") }
        return t
    }

    /// Input `i` when present.
    func optional(_ i: Int) -> RuntimeTensor? { i < count ? self[i] : nil }

    /// Input `i` as a list of integers (a shape, axes, pads…), when present.
    func ints(_ i: Int) -> [Int]? { optional(i).map { $0.int64s.map { Int(clamping: $0) } } }

    /// Input `i` as a scalar float, when present.
    func scalar(_ i: Int) throws -> Float? {
        guard let t = optional(i) else { return nil }
        guard t.count == 1 else { throw ModelError("input \(i) must hold one value, has shape \(t.shape)") }
        return t.floats[0]
    }
}

extension Node {
    /// An integer-list attribute as Ints.
    func intList(_ name: String) -> [Int]? { ints(name).map { $0.map { Int(clamping: $0) } } }
    func intValue(_ name: String, default value: Int) -> Int { Int(clamping: int(name, default: Int64(value))) }

    /// `axis`, or the specification's default for the operator at `opset` (`OpKind.defaultAxis`).
    func axisValue(opset: Int) throws -> Int {
        guard let a = axis(opset: Int64(opset)) else { throw ModelError("missing attribute 'axis'") }
        return a
    }
}

/// `axis` made non-negative for a tensor of `rank` dimensions, or an error naming the bad axis.
func normalizeAxis(_ axis: Int, rank: Int, what: String = "axis") throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0 && a < max(rank, 1) else {
        throw ModelError("\(what) \(axis) is out of range for rank \(rank)")
    }
    return a
}

/// Several axes normalized, refusing duplicates.
func normalizeAxes(_ axes: [Int], rank: Int) throws -> [Int] {
    let out = try axes.map { try normalizeAxis($0, rank: rank) }
    guard Set(out).count == out.count else { throw ModelError("axes \(axes) repeat an axis") }
    return out
}

/// Product of a slice of dimensions.
@inline(__always)
func product(_ dims: ArraySlice<Int>) -> Int { dims.reduce(1, *) }

/// Row-major strides of a shape.
func stridesOf(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for k in stride(from: shape.count - 1, through: 0, by: -1) { s[k] = acc; acc *= shape[k] }
    return s
}

/// One float32 output computed from one input with the same shape.
func unaryFloat(_ kernel: @escaping (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void)
    -> OperatorFunction {
    return { inputs, ctx in
        let x = try ctx.asFloat(try inputs.required(0))
        let y = try ctx.floats(x.shape)
        kernel(x.f, y.f, x.count, ctx.threads)
        return [y]
    }
}
