/// Shape rules for operators that reshape or relabel data without computing: Flatten, Reshape,
/// Transpose, Squeeze, Unsqueeze, Expand, Tile, Pad, Identity, Dropout, Cast, Shape, Size, Constant,
/// ConstantOfShape. Indexing operators are in Indexing.swift, reductions and resizing in Reduction.swift.
extension NodeInference {
    func inferIdentity() throws -> [Inferred] {
        _ = try required(0)
        return [Inferred(elementType(0), shape(0), value: value(0))]
    }

    func inferDropout() throws -> [Inferred] {
        _ = try required(0)
        return [passThrough, Inferred(opset >= 10 ? .bool : elementType(0), shape(0))]
    }

    func inferFlatten() throws -> [Inferred] {
        _ = try required(0)
        guard let x = shape(0) else { return [passThrough] }
        let axis = try axisAttribute()
        guard axis >= -x.rank, axis <= x.rank else { throw ModelError("axis \(axis) is out of range for rank \(x.rank)") }
        let split = axis < 0 ? axis + x.rank : axis
        let y = Shape([try DimMath.product(x.dims[0..<split]), try DimMath.product(x.dims[split...])])
        return [Inferred(elementType(0), y)]
    }

    func inferReshape() throws -> [Inferred] {
        _ = try required(0)
        let type = elementType(0)
        let target: [Dim]
        if opset < 5 {
            guard let s = try ints("shape") else { throw ModelError("missing attribute 'shape'") }
            target = s.map { .fixed($0) }
        } else {
            _ = try required(1)
            guard let known = dims(1) else {
                if let s = shape(1), s.rank == 1, let n = s[0].value { return [Inferred(type, try .unknown(declaredRank: n))] }
                return [Inferred(type, nil)]
            }
            target = known
        }
        guard target.filter({ $0 == .fixed(-1) }).count <= 1 else { throw ModelError("shape \(Shape(target)) has more than one -1") }
        if let bad = target.first(where: { ($0.value ?? 0) < -1 }) { throw ModelError("shape \(Shape(target)) holds \(bad)") }
        let x = shape(0)
        let allowZero = try opset >= 14 && checked(ReshapeAttributes(node), integers: "allowzero").allowZero
        var out = try target.enumerated().map { i, d -> Dim in
            guard d == .fixed(0), !allowZero else { return d }
            guard let x else { return .unknown }
            guard i < x.rank else { throw ModelError("shape \(Shape(target)) copies dimension \(i) that input \(x) does not have") }
            return x[i]
        }
        guard let x else {
            return [Inferred(type, Shape(out.map { $0 == .fixed(-1) ? .unknown : $0 }), value: value(0))]
        }
        let have = try DimMath.Count(x.dims)
        if let hole = out.firstIndex(of: .fixed(-1)) {
            out[hole] = .unknown
            var rest = out
            rest.remove(at: hole)
            let want = try DimMath.Count(rest)
            var symbols = have.symbols
            var resolvable = !have.hasUnknown && !want.hasUnknown && want.fixed != 0
            for s in want.symbols {
                if let i = symbols.firstIndex(of: s) { symbols.remove(at: i) } else { resolvable = false }
            }
            if resolvable {
                if have.fixed % want.fixed != 0 {
                    if symbols.isEmpty { throw ModelError("cannot reshape \(x) into \(Shape(target)): \(have.fixed) elements do not divide by \(want.fixed)") }
                } else if symbols.isEmpty {
                    out[hole] = .fixed(have.fixed / want.fixed)
                } else if symbols.count == 1, have.fixed == want.fixed {
                    out[hole] = .symbol(symbols[0])
                }
            }
        } else if let n = DimMath.elementCount(x), let m = DimMath.elementCount(Shape(out)), n != m {
            throw ModelError("cannot reshape \(x) (\(n) elements) into \(Shape(out)) (\(m) elements)")
        }
        return [Inferred(type, Shape(out), value: value(0))]
    }

    func inferTranspose() throws -> [Inferred] {
        _ = try required(0)
        guard let x = shape(0) else { return [passThrough] }
        let perm = try ints("perm") ?? Array((0..<x.rank).reversed())
        guard perm.sorted() == Array(0..<x.rank) else {
            throw ModelError("perm \(perm) is not a permutation of the \(x.rank) axes of \(x)")
        }
        return [Inferred(elementType(0), Shape(perm.map { x[$0] }))]
    }

    func inferSqueeze() throws -> [Inferred] {
        _ = try required(0)
        let (axesList, known) = try movedInts("axes", input: 1, since: 13)
        guard let x = shape(0), known else { return [Inferred(elementType(0), nil, value: value(0))] }
        let removed: Set<Int>
        if let axesList {
            removed = Set(try axes(axesList, rank: x.rank))
            for a in removed {
                if let v = x[a].value, v != 1 { throw ModelError("cannot squeeze axis \(a) of size \(v) in \(x)") }
            }
        } else {
            // Without axes every size-1 axis goes; a symbolic size might be 1, so the rank is unknown.
            guard let fixed = x.fixedDims else { return [Inferred(elementType(0), nil, value: value(0))] }
            removed = Set(fixed.indices.filter { fixed[$0] == 1 })
        }
        let y = Shape(x.dims.indices.filter { !removed.contains($0) }.map { x[$0] })
        return [Inferred(elementType(0), y, value: value(0))]
    }

    func inferUnsqueeze() throws -> [Inferred] {
        _ = try required(0)
        let (axesList, known) = try movedInts("axes", input: 1, since: 13)
        guard known else { return [Inferred(elementType(0), nil, value: value(0))] }
        guard let axesList else { throw ModelError("missing axes") }
        guard let x = shape(0) else { return [Inferred(elementType(0), nil, value: value(0))] }
        let rank = x.rank + axesList.count
        let inserted = Set(try axes(axesList, rank: rank))
        var source = x.dims.makeIterator()
        let y = Shape((0..<rank).map { inserted.contains($0) ? .fixed(1) : source.next()! })
        return [Inferred(elementType(0), y, value: value(0))]
    }

    func inferExpand() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        guard let x = shape(0) else { return [passThrough] }
        guard let target = dims(1) else {
            if let s = shape(1), s.rank == 1, let n = s[0].value { return [Inferred(elementType(0), try .unknown(declaredRank: Swift.max(n, x.rank)))] }
            return [Inferred(elementType(0), nil)]
        }
        guard let y = DimMath.broadcast(x, Shape(target)) else {
            throw ModelError("input \(x) does not broadcast to \(Shape(target))")
        }
        return [Inferred(elementType(0), y)]
    }

    func inferTile() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        guard let x = shape(0) else { return [passThrough] }
        guard let repeats = ints(1) else { return [Inferred(elementType(0), .unknown(rank: x.rank))] }
        guard repeats.count == x.rank, repeats.allSatisfy({ $0 >= 0 }) else {
            throw ModelError("repeats \(repeats) must hold \(x.rank) non-negative values for input \(x)")
        }
        return [Inferred(elementType(0), Shape(try zip(x.dims, repeats).map { try DimMath.product([$0, .fixed($1)]) }))]
    }

    func inferPad() throws -> [Inferred] {
        _ = try required(0)
        let (padList, known) = try movedInts("pads", input: 1, since: 11)
        guard let x = shape(0) else { return [passThrough] }
        guard known, let pads = padList else {
            if !known { return [Inferred(elementType(0), .unknown(rank: x.rank))] }
            throw ModelError("missing pads")
        }
        var axesList = Array(0..<x.rank)
        if opset >= 18, node.input(3) != nil {
            guard let a = ints(3) else { return [Inferred(elementType(0), .unknown(rank: x.rank))] }
            axesList = try axes(a, rank: x.rank)
        }
        guard pads.count == 2 * axesList.count else {
            throw ModelError("pads \(pads) must hold \(2 * axesList.count) values for input \(x)")
        }
        var dims = x.dims
        for (i, a) in axesList.enumerated() {
            let delta = try DimMath.add(pads[i], pads[i + axesList.count])
            switch dims[a] {
            case .fixed(let n):
                let size = try DimMath.add(n, delta)
                guard size >= 0 else { throw ModelError("pads \(pads) remove more than axis \(a) of \(x) holds") }
                dims[a] = .fixed(size)
            default: if delta != 0 { dims[a] = .unknown }
            }
        }
        return [Inferred(elementType(0), Shape(dims))]
    }

    func inferCast() throws -> [Inferred] {
        _ = try required(0)
        let code = Int(clamping: try checked(CastAttributes(node), integers: "to").to)
        guard let to = DataType(rawValue: Int32(clamping: code)), to != .undefined else {
            throw ModelError("attribute 'to' holds unknown element type \(code)")
        }
        var folded: KnownValue? = nil
        switch value(0) {
        case .ints(let v)?: folded = to.isFloatingPoint ? (KnownValue.ints(v).numbers.map { .floats($0) }) : .ints(v)
        case .floats(let v)?:
            folded = to.isFloatingPoint ? .floats(v)
                : (v.allSatisfy { $0.isFinite && Swift.abs($0) < 1e15 } ? .ints(v.map { .fixed(Int($0)) }) : nil)
        case nil: break
        }
        return [Inferred(to, shape(0), value: folded)]
    }

    func inferShapeOp() throws -> [Inferred] {
        _ = try required(0)
        guard let x = shape(0) else { return [Inferred(.int64, Shape([.unknown]))] }
        var start = 0, end = x.rank
        if opset >= 15 {
            // Out-of-range start/end are clamped, as the spec says.
            func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + x.rank : v, 0), x.rank) }
            start = clamp(Int(clamping: try checked(ShapeAttributes(node), integers: "start").start))
            end = clamp(try int("end", x.rank))
        }
        let dims = start < end ? Array(x.dims[start..<end]) : []
        return [Inferred(.int64, Shape([.fixed(dims.count)]), value: .ints(dims))]
    }

    /// Size: the number of elements, an int64 scalar.
    func inferSize() throws -> [Inferred] {
        _ = try required(0)
        guard let x = shape(0) else { return [Inferred(.int64, Shape([]))] }
        return [Inferred(.int64, Shape([]), value: .ints([try DimMath.product(x.dims)]))]
    }

    func inferConstant() throws -> [Inferred] {
        guard let a = node.attributes.first else { throw ModelError("has no value attribute") }
        switch (a.name, a.value) {
        case ("value", .tensor(let t)):
            return [Inferred(t.dataType, t.shape, value: ShapeContext.known(t))]
        case ("sparse_value", .sparseTensor(let s)):
            return [Inferred(s.values.dataType, Shape(fixed: s.dims))]
        case ("value_float", .float(let v)): return [Inferred(.float, Shape([]), value: .floats([Double(v)]))]
        case ("value_floats", .floats(let v)): return [Inferred(.float, Shape(fixed: [v.count]), value: .floats(v.map(Double.init)))]
        case ("value_int", .int(let v)): return [Inferred(.int64, Shape([]), value: .ints([.fixed(Int(v))]))]
        case ("value_ints", .ints(let v)): return [Inferred(.int64, Shape(fixed: [v.count]), value: .ints(v.map { .fixed(Int($0)) }))]
        case ("value_string", .string): return [Inferred(.string, Shape([]))]
        case ("value_strings", .strings(let v)): return [Inferred(.string, Shape(fixed: [v.count]))]
        default: throw ModelError("attribute '\(a.name)' is not a valid constant value")
        }
    }

    func inferConstantOfShape() throws -> [Inferred] {
        _ = try required(0)
        var type = DataType.float
        var fill: KnownValue = .floats([0])
        if let t = node[attribute: "value"]?.tensor {
            guard t.elementCount == 1 else { throw ModelError("attribute 'value' must hold one element") }
            type = t.dataType
            fill = ShapeContext.known(t) ?? fill
        }
        guard let dims = dims(0) else {
            if let s = shape(0), s.rank == 1, let n = s[0].value { return [Inferred(type, try .unknown(declaredRank: n))] }
            return [Inferred(type, nil)]
        }
        if let bad = dims.first(where: { ($0.value ?? 0) < 0 }) { throw ModelError("shape \(Shape(dims)) holds \(bad)") }
        let y = Shape(dims)
        var folded: KnownValue? = nil
        if let n = DimMath.elementCount(y), n <= 64 {
            switch fill {
            case .ints(let v): folded = .ints(Array(repeating: v[0], count: n))
            case .floats(let v): folded = .floats(Array(repeating: v[0], count: n))
            }
        }
        return [Inferred(type, y, value: folded)]
    }
}
