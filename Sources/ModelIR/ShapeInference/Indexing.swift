/// Shape rules for Concat, Split, Slice and Gather, which also evaluate the 1-D integer vectors that
/// shape computations pass through them.
extension NodeInference {
    func inferConcat() throws -> [Inferred] {
        guard !node.inputs.isEmpty else { throw ModelError("needs at least one input") }
        for i in node.inputs.indices { _ = try required(i) }
        let type = node.inputs.indices.lazy.compactMap(elementType).first
        // Required from opset 4 on.
        guard node[attribute: "axis"] != nil || opset < 4 else { throw ModelError("missing attribute 'axis'") }
        let axisValue = try axisAttribute()
        let shapes = node.inputs.indices.map(shape)
        guard let first = shapes.compactMap({ $0 }).first else { return [Inferred(type, nil)] }
        let axis = try self.axis(axisValue, rank: first.rank)
        var dims = first.dims
        var total: Dim = .fixed(0)
        for (i, s) in shapes.enumerated() {
            guard let s else { total = .unknown; continue }
            guard s.rank == first.rank else { throw ModelError("input \(i) \(s) and \(first) have different ranks") }
            for a in 0..<s.rank where a != axis {
                guard let d = DimMath.unify(dims[a], s[a]) else {
                    throw ModelError("input \(i) \(s) differs from \(first) on axis \(a), not the concatenation axis \(axis)")
                }
                dims[a] = d
            }
            switch (total, s[axis]) {
            case (.fixed(let p), .fixed(let q)): total = .fixed(try DimMath.add(p, q))
            case (.fixed(0), let d), (let d, .fixed(0)): total = d
            default: total = .unknown
            }
        }
        dims[axis] = total
        var folded: KnownValue? = nil
        if first.rank == 1 {
            let parts = node.inputs.indices.map(self.dims)
            if parts.allSatisfy({ $0 != nil }) { folded = .ints(parts.flatMap { $0! }) }
        }
        return [Inferred(type, Shape(dims), value: folded)]
    }

    func inferSplit() throws -> [Inferred] {
        _ = try required(0)
        let n = node.outputs.count
        guard let x = shape(0) else { return Array(repeating: passThrough, count: n) }
        let axis = try self.axis(try axisAttribute(), rank: x.rank)
        let (sizes, known) = try movedInts("split", input: 1, since: 13)
        var parts: [Dim]
        if let sizes {
            guard sizes.count == n, sizes.allSatisfy({ $0 >= 0 }) else {
                throw ModelError("split \(sizes) must hold \(n) non-negative sizes, one per output")
            }
            if let d = x[axis].value, sizes.reduce(0, +) != d {
                throw ModelError("split \(sizes) does not add up to \(d), the size of axis \(axis) of \(x)")
            }
            parts = sizes.map { .fixed($0) }
        } else if known, let d = x[axis].value {
            if opset >= 18, node[attribute: "num_outputs"] != nil {
                // Opset 18: equal chunks of ceil(d / n), the last one smaller.
                let chunk = DimMath.ceilDiv(d, Swift.max(n, 1))
                parts = (0..<n).map { .fixed(Swift.max(0, Swift.min(chunk, d - chunk * $0))) }
            } else {
                guard n > 0, d % n == 0 else { throw ModelError("axis \(axis) of size \(d) in \(x) does not split into \(n) equal parts") }
                parts = Array(repeating: .fixed(d / n), count: n)
            }
        } else {
            parts = Array(repeating: .unknown, count: n)
        }
        return parts.map { p in
            var dims = x.dims
            dims[axis] = p
            return Inferred(elementType(0), Shape(dims))
        }
    }

    /// Clamped `start` and element count of a slice of an axis of size `dim`, following the spec.
    static func sliceRange(start: Int, end: Int, step: Int, dim: Int) -> (start: Int, count: Int) {
        var s = start < 0 ? start &+ dim : start
        var e = end < 0 ? end &+ dim : end
        if step > 0 {
            s = Swift.min(Swift.max(s, 0), dim)
            e = Swift.min(Swift.max(e, 0), dim)
            return (s, e > s ? DimMath.ceilDiv(e - s, step) : 0)
        }
        s = Swift.min(Swift.max(s, 0), dim - 1)
        e = Swift.min(Swift.max(e, -1), dim - 1)
        return (s, s > e ? DimMath.ceilDiv(s - e, -step) : 0)
    }

    func inferSlice() throws -> [Inferred] {
        _ = try required(0)
        guard let x = shape(0) else { return [passThrough] }
        var startList: [Int]? = nil, endList: [Int]? = nil, axesList: [Int]? = nil, stepsList: [Int]? = nil
        if opset < 10 {
            // Attribute bounds are read unchecked: INT64_MAX is the usual "to the end".
            startList = node.ints("starts").map { $0.map { Int($0) } }
            endList = node.ints("ends").map { $0.map { Int($0) } }
            axesList = try ints("axes")
            guard startList != nil, endList != nil else { throw ModelError("missing attribute 'starts' or 'ends'") }
        } else {
            _ = try required(1)
            _ = try required(2)
            startList = ints(1)
            endList = ints(2)
            if node.input(3) != nil {
                guard let a = ints(3) else { return [Inferred(elementType(0), .unknown(rank: x.rank))] }
                axesList = a
            }
            if node.input(4) != nil {
                guard let s = ints(4) else { return [Inferred(elementType(0), .unknown(rank: x.rank))] }
                stepsList = s
            }
        }
        let axesGiven = try axesList.map { try axes($0, rank: x.rank) }
        guard let starts = startList, let ends = endList else {
            // Unknown bounds: the sliced axes (all, when axes are not given) become unknown.
            var unknownDims = x.dims
            for a in axesGiven ?? Array(0..<x.rank) { unknownDims[a] = .unknown }
            return [Inferred(elementType(0), Shape(unknownDims))]
        }
        let sliceAxes = axesGiven ?? Array(0..<starts.count)
        let stepList = stepsList ?? Array(repeating: 1, count: starts.count)
        guard ends.count == starts.count, sliceAxes.count == starts.count, stepList.count == starts.count,
              starts.count <= x.rank else {
            throw ModelError("starts \(starts), ends \(ends), axes \(sliceAxes) and steps \(stepList) must have equal lengths ≤ rank \(x.rank)")
        }
        guard !stepList.contains(0) else { throw ModelError("steps \(stepList) must not contain 0") }
        var dims = x.dims
        var folded = x.rank == 1 ? self.dims(0) : nil
        for i in sliceAxes.indices {
            let a = sliceAxes[i]
            switch x[a] {
            case .fixed(let d):
                let r = Self.sliceRange(start: starts[i], end: ends[i], step: stepList[i], dim: d)
                dims[a] = .fixed(r.count)
                if let v = folded, v.count == d {
                    folded = (0..<r.count).map { v[r.start + $0 * stepList[i]] }
                }
            default:
                // start 0, step 1 and an end past any real size keep the whole (symbolic) axis.
                let whole = starts[i] == 0 && stepList[i] == 1 && ends[i] >= Int(Int32.max)
                dims[a] = whole ? x[a] : .unknown
                if !whole { folded = nil }
            }
        }
        return [Inferred(elementType(0), Shape(dims), value: folded.map { .ints($0) })]
    }

    func inferGather() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        guard let x = shape(0), let indices = shape(1) else { return [Inferred(elementType(0), nil)] }
        guard x.rank >= 1 else { throw ModelError("data must have rank ≥ 1, got \(x)") }
        let axis = try self.axis(try axisAttribute(), rank: x.rank)
        let y = Shape(Array(x.dims[..<axis]) + indices.dims + Array(x.dims[(axis + 1)...]))
        var folded: KnownValue? = nil
        if let picks = ints(1), let n = x[axis].value {
            for p in picks where p < -n || p >= n {
                throw ModelError("index \(p) is out of range for axis \(axis) of size \(n) in \(x)")
            }
            if x.rank == 1, let data = dims(0), data.count == n {
                folded = .ints(picks.map { data[$0 < 0 ? $0 + n : $0] })
            }
        }
        return [Inferred(elementType(0), y, value: folded)]
    }
}
