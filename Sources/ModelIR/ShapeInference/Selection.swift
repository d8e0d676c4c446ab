/// Shape rules for ArgMax, ArgMin and TopK, which select along one axis, and Range.
extension NodeInference {
    /// ArgMax/ArgMin: int64 indices, the axis reduced (kept as 1 with keepdims).
    func inferArgReduce() throws -> [Inferred] {
        _ = try required(0)
        let attributes = try checked(ArgReduceAttributes(node), integers: "keepdims", "select_last_index")
        guard let x = shape(0) else { return [Inferred(.int64, nil)] }
        let a = try axis(try axisAttribute(), rank: x.rank)
        var dims = x.dims
        if attributes.keepDims { dims[a] = .fixed(1) } else { dims.remove(at: a) }
        return [Inferred(.int64, Shape(dims))]
    }

    /// TopK: values and int64 indices, the axis cut to k.
    func inferTopK() throws -> [Inferred] {
        _ = try required(0)
        let attributes = try checked(TopKAttributes(node), integers: "k", "largest", "sorted")
        var k: Dim = .unknown
        if opset < 10 {
            guard let v = attributes.k else { throw ModelError("missing attribute 'k'") }
            k = .fixed(try DimMath.checked(Int(truncatingIfNeeded: v)))
        } else {
            _ = try required(1)
            if let v = ints(1) {
                guard v.count == 1 else { throw ModelError("k must hold one value, holds \(v.count)") }
                k = .fixed(v[0])
            }
        }
        if let v = k.value, v < 0 { throw ModelError("k is negative (\(v))") }
        guard let x = shape(0) else { return [Inferred(elementType(0), nil), Inferred(.int64, nil)] }
        let a = try axis(try axisAttribute(), rank: x.rank)
        if let v = k.value, let d = x[a].value, v > d {
            throw ModelError("k \(v) exceeds the size \(d) of axis \(a) of \(x)")
        }
        var dims = x.dims
        dims[a] = k
        return [Inferred(elementType(0), Shape(dims)), Inferred(.int64, Shape(dims))]
    }

    /// Range(start, limit, delta): max(ceil((limit − start) / delta), 0) elements, folded when
    /// small and integer (exporters build index vectors this way).
    func inferRange() throws -> [Inferred] {
        for i in 0..<3 {
            _ = try required(i)
            if let s = shape(i), s.rank != 0 { throw ModelError("input \(i) must be a scalar, has shape \(s)") }
        }
        let type = elementType(0)
        guard let start = numbers(0)?.first, let limit = numbers(1)?.first, let delta = numbers(2)?.first else {
            return [Inferred(type, Shape([.unknown]))]
        }
        guard delta != 0 else { throw ModelError("delta is 0") }
        let n = Swift.max(try DimMath.dimension(Swift.max((limit - start) / delta, 0), .up), 0)
        var folded: KnownValue? = nil
        if n <= 4096, let type, !type.isFloatingPoint {
            folded = .ints((0..<n).map { .fixed(Int(start) + $0 * Int(delta)) })
        }
        return [Inferred(type, Shape([.fixed(n)]), value: folded)]
    }
}
