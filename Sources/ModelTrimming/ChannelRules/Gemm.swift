import ModelIR

/// Gemm and MatMul with a constant weight: input features and output features are independent,
/// like a 1×1 convolution. Gemm's weight is [K, N], or [N, K] with transB.
extension ChannelAnalyzer {
    mutating func gemm(_ node: Node) {
        guard let a = node.input(0), let b = node.input(1), let out = node.outputs.first,
              let weight = constants[b], weight.dims.count == 2 else {
            return stop(node, "weight is not a constant matrix")
        }
        let attributes = GemmAttributes(node), transB = attributes.transB
        if maps[a] != nil {
            guard !attributes.transA else { return stop(node, "transA reads features along axis 0") }
            edit(.slice(input: 1, axis: transB ? 1 : 0, by: a))
            edit(.compensate(.gemm))
        }
        fresh(out, size: weight.dims[transB ? 0 : 1], producer: node.displayName, barrier: nil)
        edit(.slice(input: 1, axis: transB ? 0 : 1, by: out))
        if let c = node.input(2) {
            guard isConstant(c) else { return barrier(out, why(node, "C is not a constant")) }
            edit(.sliceBroadcast(input: 2, by: out, rank: 2, axis: 1))
        }
    }

    mutating func matMul(_ node: Node) {
        guard let a = node.input(0), let b = node.input(1), let out = node.outputs.first,
              let weight = constants[b], weight.dims.count == 2 else {
            return stop(node, "weight is not a constant matrix")
        }
        // Only [M, K] · [K, N]: with more dimensions the features are not on axis 1.
        guard rank(a) == 2 else { return stop(node, "MatMul on a tensor of rank \(rank(a).map(String.init) ?? "?")") }
        if maps[a] != nil {
            edit(.slice(input: 1, axis: 0, by: a))
            edit(.compensate(.matMul))
        }
        fresh(out, size: weight.dims[1], producer: node.displayName, barrier: nil)
        edit(.slice(input: 1, axis: 1, by: out))
    }
}
