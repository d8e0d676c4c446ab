/// Shape rules for reductions (ReduceMean, ReduceSum, ReduceMax and the other Reduce operators) and
/// resampling (Resize, Upsample).
extension NodeInference {
    func inferReduce(_ kind: OpKind) throws -> [Inferred] {
        _ = try required(0)
        let since = ReduceAttributes.axesInputSince(kind)
        let (axesList, known) = try movedInts("axes", input: 1, since: since)
        let attributes = try checked(ReduceAttributes(node), integers: "keepdims")
        let keep = attributes.keepDims
        guard let x = shape(0) else { return [passThrough] }
        guard known else { return [Inferred(elementType(0), keep ? .unknown(rank: x.rank) : nil)] }
        let reduced: Set<Int>
        if let axesList, !axesList.isEmpty {
            reduced = Set(try axes(axesList, rank: x.rank))
        } else {
            if try opset >= since && checked(attributes.noopWithEmptyAxes, integers: "noop_with_empty_axes") {
                return [passThrough]
            }
            reduced = Set(0..<x.rank)
        }
        var dims: [Dim] = []
        for (i, d) in x.dims.enumerated() {
            if !reduced.contains(i) { dims.append(d) } else if keep { dims.append(.fixed(1)) }
        }
        return [Inferred(elementType(0), Shape(dims))]
    }

    /// True when input `i` is absent or an empty tensor (Resize's way of omitting scales or sizes).
    private func isOmitted(_ i: Int) -> Bool {
        guard node.input(i) != nil else { return true }
        if DimMath.elementCount(shape(i)) == 0 { return true }
        return false
    }

    func inferResize(_ kind: OpKind) throws -> [Inferred] {
        _ = try required(0)
        guard let x = shape(0) else { return [passThrough] }
        let unknown = [Inferred(elementType(0), .unknown(rank: x.rank))]
        var scales: [Double]?
        var sizes: [Int]?
        if kind == .upsample {
            if opset < 9 {
                guard let s = try floats("scales") else { throw ModelError("missing attribute 'scales'") }
                scales = s
            } else {
                _ = try required(1)
                guard let s = numbers(1) else { return unknown }
                scales = s
            }
        } else if opset < 11 {
            _ = try required(1)
            guard let s = numbers(1) else { return unknown }
            scales = s
        } else if !isOmitted(3) {
            guard let s = ints(3) else { return unknown }
            sizes = s
        } else if !isOmitted(2) {
            guard let s = numbers(2) else { return unknown }
            if !s.isEmpty { scales = s }
        }
        let axesList = opset >= 18 ? try ints("axes").map { try axes($0, rank: x.rank) } : nil
        let resized = axesList ?? Array(0..<x.rank)
        var dims = x.dims
        if let sizes {
            guard sizes.count == resized.count, sizes.allSatisfy({ $0 >= 0 }) else {
                throw ModelError("sizes \(sizes) must hold \(resized.count) non-negative values for input \(x)")
            }
            let stretch = ResizeAttributes.defaultKeepAspectRatioPolicy
            let policy = opset >= 18 ? try string("keep_aspect_ratio_policy", stretch) : stretch
            if policy == "stretch" {
                for (i, a) in resized.enumerated() { dims[a] = .fixed(sizes[i]) }
            } else {
                // One scale for all resized axes, the smallest (not_larger) or largest (not_smaller) ratio.
                guard policy == "not_larger" || policy == "not_smaller" else {
                    throw ModelError("unknown keep_aspect_ratio_policy '\(policy)'")
                }
                var ratios: [Double] = []
                for (i, a) in resized.enumerated() {
                    guard let n = x[a].value, n > 0 else { return unknown }
                    ratios.append(Double(sizes[i]) / Double(n))
                }
                let scale = policy == "not_larger" ? ratios.min() ?? 1 : ratios.max() ?? 1
                for a in resized { dims[a] = .fixed(try DimMath.dimension(scale * Double(x[a].value!), .toNearestOrAwayFromZero)) }
            }
        } else if let scales {
            guard scales.count == resized.count, scales.allSatisfy({ $0 > 0 && $0.isFinite && $0 < 1e9 }) else {
                throw ModelError("scales \(scales) must hold \(resized.count) positive values for input \(x)")
            }
            for (i, a) in resized.enumerated() {
                switch x[a] {
                case .fixed(let n): dims[a] = .fixed(try DimMath.dimension(Double(n) * scales[i], .down))
                default: if scales[i] != 1 { dims[a] = .unknown }
                }
            }
        } else {
            throw ModelError("needs scales or sizes")
        }
        return [Inferred(elementType(0), Shape(dims))]
    }
}
