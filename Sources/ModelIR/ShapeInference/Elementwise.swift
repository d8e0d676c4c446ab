/// Shape rules for activations and element-wise arithmetic, plus the integer arithmetic exporters
/// use to compute shapes (Add/Sub/Mul/Div of small int64 vectors are evaluated).
extension NodeInference {
    /// One input, one output of the same type and shape.
    func inferUnary() throws -> [Inferred] {
        _ = try required(0)
        return [passThrough]
    }

    func inferSoftmax() throws -> [Inferred] {
        _ = try required(0)
        if let x = shape(0) {
            // The default axis moved from 1 (coerce to 2-D) to -1 (last axis) at opset 13.
            _ = try axis(try axisAttribute(), rank: Swift.max(x.rank, 1))
        }
        return [passThrough]
    }

    func inferPRelu() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        if let x = shape(0), let slope = shape(1) {
            // Before opset 7 a 1-D slope of C values applies along the channel axis (legacy
            // broadcasting), as PyTorch's old exports rely on.
            if opset < 7, slope.rank == 1, x.rank >= 2, DimMath.unify(slope[0], x[1]) != nil || slope[0] == .fixed(1) {
                return [passThrough]
            }
            guard slope.rank <= x.rank, let b = DimMath.broadcast(x, slope),
                  zip(b.dims, x.dims).allSatisfy({ DimMath.unify($0, $1) != nil }) else {
                throw ModelError("slope \(slope) does not broadcast to the input \(x)")
            }
        }
        return [passThrough]
    }

    /// Multidirectional broadcasting of every input, as for Add or Sum.
    func inferBroadcast(_ kind: OpKind) throws -> [Inferred] {
        let minimum = [.sum, .max, .min, .mean].contains(kind) ? 1 : 2
        guard node.inputs.count >= minimum else {
            throw ModelError("needs at least \(minimum) inputs, has \(node.inputs.count)")
        }
        var result: Shape? = nil
        var known = true
        for i in node.inputs.indices {
            _ = try required(i)
            guard let s = shape(i) else { known = false; continue }
            guard let r = result else { result = s; continue }
            guard let b = DimMath.broadcast(r, s) else {
                throw ModelError("input shapes \(r) and \(s) do not broadcast")
            }
            result = b
        }
        let type = elementType(0) ?? (kind == .pow ? nil : node.inputs.indices.lazy.compactMap(elementType).first)
        let shape = known ? result : nil
        return [Inferred(type, shape, value: try foldArithmetic(kind, shape: shape))]
    }

    /// The elements of integer Add/Sub/Mul/Div on known vectors (rank ≤ 1, broadcast over length 1).
    private func foldArithmetic(_ kind: OpKind, shape: Shape?) throws -> KnownValue? {
        guard [.add, .sub, .mul, .div].contains(kind), node.inputs.count == 2, let shape, shape.rank <= 1,
              let a = dims(0), let b = dims(1), !a.isEmpty, !b.isEmpty,
              a.count == b.count || a.count == 1 || b.count == 1 else { return nil }
        let n = Swift.max(a.count, b.count)
        return .ints(try (0..<n).map { i in
            let x = a[a.count == 1 ? 0 : i], y = b[b.count == 1 ? 0 : i]
            switch (kind, x, y) {
            case (.add, .fixed(let p), .fixed(let q)): return .fixed(try DimMath.add(p, q))
            case (.sub, .fixed(let p), .fixed(let q)): return .fixed(try DimMath.add(p, -q))
            case (.mul, .fixed(let p), .fixed(let q)): return .fixed(try DimMath.mul(p, q))
            case (.div, .fixed(let p), .fixed(let q)): return q == 0 ? .unknown : .fixed(p / q)
            // Identities keep a symbol: batch + 0, batch × 1, batch ÷ 1.
            case (.add, _, .fixed(0)), (.sub, _, .fixed(0)), (.mul, _, .fixed(1)), (.div, _, .fixed(1)): return x
            case (.add, .fixed(0), _), (.mul, .fixed(1), _): return y
            default: return .unknown
            }
        })
    }
}
