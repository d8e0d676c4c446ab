import ModelIR

/// BatchNormalization and InstanceNormalization: one-to-one, their per-channel parameters sliced.
/// LayerNormalization mixes channels when it normalises over axis 1.
extension ChannelAnalyzer {
    mutating func normalization(_ node: Node) {
        guard let x = node.input(0), let m = maps[x] else { return }
        if case .channelsLast = m.kind { return stop(node, "normalisation of a channels-last tensor") }
        let params = node.kind == .batchNormalization ? 1...4 : 1...2
        for i in params where node.input(i) != nil {
            guard isConstant(node.inputs[i]) else { return stop(node, "parameter '\(node.inputs[i])' is not a constant") }
            edit(.slice(input: i, axis: 0, by: x))
        }
        pass(node)
    }

    mutating func layerNormalization(_ node: Node) {
        guard let x = node.input(0), maps[x] != nil, let r = rank(x) else { return }
        guard let axis = node.axis(opset: opset) else { return stop(node, "LayerNormalization has no axis") }
        let a = axis < 0 ? axis + r : axis
        guard a > 1, maps[x]?.kind == .channels else { return stop(node, "LayerNormalization over the channel axis") }
        pass(node)
    }
}
