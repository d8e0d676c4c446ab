import ModelIR

/// Activations are element-wise: one-to-one, whatever the channel layout. PRelu's slope is sliced;
/// Softmax mixes channels only when it runs along the channel axis.
extension ChannelAnalyzer {
    mutating func unaryElementwise(_ node: Node) {
        pass(node)
    }

    mutating func pRelu(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let r = rank(x), let slope = node.input(1) else { return }
        guard isConstant(slope) else { return stop(node, "slope is not a constant") }
        edit(.sliceBroadcast(input: 1, by: x, rank: r, axis: m.axis(rank: r)))
        pass(node)
    }

    mutating func softmax(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let r = rank(x) else { return }
        guard let axis = node.axis(opset: opset) else { return stop(node, "\(node.opType) has no axis") }
        let a = axis < 0 ? axis + r : axis
        // Before opset 13 the input is coerced to 2-D at `axis`, so every later axis is mixed too.
        let mixes = opset < 13 ? a <= m.axis(rank: r) : a == m.axis(rank: r)
        if mixes { return stop(node, "\(node.opType) over the channel axis") }
        pass(node)
    }
}
