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

    /// MatMul with a constant [K, N] weight. On [M, K] the features are axis 1, as for Gemm. On a
    /// tensor of rank 3 or more they are the last axis: the output's N features are a new
    /// channels-last group (the hidden layer of a transformer or ConvNeXt MLP, whose Linear layers
    /// export as MatMul on [N, H, W, C]), and a channels-last input loses its removed features
    /// as weight rows. Channels of a channels-first input ride along axes MatMul does not read,
    /// which the analysis does not follow: they are fixed.
    mutating func matMul(_ node: Node) {
        guard let a = node.input(0), let b = node.input(1), let out = node.outputs.first,
              let weight = constants[b], weight.dims.count == 2 else {
            return stop(node, "weight is not a constant matrix")
        }
        guard let r = rank(a) else { return stop(node, "MatMul on a tensor of unknown rank") }
        var kind = ChannelMap.Kind.channels
        if r > 2 {
            guard let spatial = shape(a)?.dims.dropFirst().dropLast()
                .reduce(Optional(1), { p, d in p.flatMap { q in d.value.map { q * $0 } } }) else {
                return stop(node, "MatMul on a tensor of unknown shape")
            }
            kind = .channelsLast(spatial: spatial)
            if let m = maps[a], m.kind != kind {
                barrier(a, why(node, "MatMul reads the last axis of a tensor whose channels are elsewhere"))
            }
        }
        // On [M, K] the map may also be flattened features; on more axes it must be channels last.
        if let m = maps[a], r == 2 || m.kind == kind {
            edit(.slice(input: 1, axis: 0, by: a))
            edit(.compensate(.matMul))
        }
        fresh(out, size: weight.dims[1], kind: kind, producer: node.displayName, barrier: nil)
        edit(.slice(input: 1, axis: 1, by: out))
    }
}
