/// Shape rules for dense layers and normalisation: Gemm, MatMul, BatchNormalization,
/// InstanceNormalization, LayerNormalization.
extension NodeInference {
    func inferGemm() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        let type = elementType(0) ?? elementType(1)
        guard let a = shape(0), let b = shape(1) else { return [Inferred(type, nil)] }
        guard a.rank == 2, b.rank == 2 else { throw ModelError("inputs must be matrices, got \(a) and \(b)") }
        let attributes = try checked(GemmAttributes(node), integers: "transA", "transB")
        let transA = attributes.transA, transB = attributes.transB
        let (m, ka) = transA ? (a[1], a[0]) : (a[0], a[1])
        let (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        guard DimMath.unify(ka, kb) != nil else {
            throw ModelError("inner dimensions differ: A\(transA ? "ᵀ" : "") \(a) and B\(transB ? "ᵀ" : "") \(b)")
        }
        let y = Shape([m, n])
        if let c = shape(2) {
            // Unidirectional: C stretches to [M, N], never the other way round.
            guard c.rank <= 2, let broadcast = DimMath.broadcast(c, y),
                  zip(broadcast.dims, y.dims).allSatisfy({ DimMath.unify($0, $1) != nil }) else {
                throw ModelError("C \(c) does not broadcast to the output \(y)")
            }
        }
        return [Inferred(type, y)]
    }

    func inferMatMul() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        let type = elementType(0) ?? elementType(1)
        guard let a = shape(0), let b = shape(1) else { return [Inferred(type, nil)] }
        guard a.rank >= 1, b.rank >= 1 else { throw ModelError("inputs must not be scalars, got \(a) and \(b)") }
        // Numpy rules: a vector A is a row [1, K], a vector B is a column [K, 1]; both extra dims are dropped.
        let left = a.rank == 1 ? Shape([.fixed(1)] + a.dims) : a
        let right = b.rank == 1 ? Shape(b.dims + [.fixed(1)]) : b
        guard DimMath.unify(left[left.rank - 1], right[right.rank - 2]) != nil else {
            throw ModelError("inner dimensions differ: \(a) × \(b)")
        }
        guard let batch = DimMath.broadcast(Shape(Array(left.dims.dropLast(2))), Shape(Array(right.dims.dropLast(2)))) else {
            throw ModelError("batch dimensions of \(a) and \(b) do not broadcast")
        }
        var dims = batch.dims
        if a.rank > 1 { dims.append(left[left.rank - 2]) }
        if b.rank > 1 { dims.append(right[right.rank - 1]) }
        return [Inferred(type, Shape(dims))]
    }

    /// BatchNormalization and InstanceNormalization: per-channel parameters of shape [C].
    func inferChannelNorm(_ kind: OpKind) throws -> [Inferred] {
        _ = try required(0)
        let parameterCount = kind == .batchNormalization ? 4 : 2
        for i in 1...parameterCount { _ = try required(i) }
        guard let x = shape(0) else { return [passThrough] }
        guard x.rank >= 2 else { throw ModelError("input must have rank ≥ 2 (N, C, …), got \(x)") }
        let c = x[1]
        let names = ["scale", "bias", "mean", "variance"]
        for i in 1...parameterCount {
            guard let p = shape(i) else { continue }
            guard p.rank == 1, DimMath.unify(p[0], c) != nil else {
                throw ModelError("\(names[i - 1]) \(p) does not match \(c) channels of input \(x)")
            }
        }
        // Training-mode outputs (running or saved statistics) are per channel.
        let statistics = Inferred(elementType(1) ?? elementType(0), Shape([c]))
        return [passThrough] + Array(repeating: statistics, count: Swift.max(0, node.outputs.count - 1))
    }

    func inferLayerNorm() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        guard let x = shape(0) else { return [passThrough] }
        let axis = try self.axis(try axisAttribute(), rank: x.rank)
        if let scale = shape(1), scale.rank > x.rank - axis {
            throw ModelError("scale \(scale) has more axes than the normalised part of \(x)")
        }
        let stash = DataType(rawValue: Int32(try int("stash_type", 1))) ?? .float
        let reduced = Inferred(stash, Shape(Array(x.dims[0..<axis]) + Array(repeating: .fixed(1), count: x.rank - axis)))
        return [passThrough, reduced, reduced]
    }
}
