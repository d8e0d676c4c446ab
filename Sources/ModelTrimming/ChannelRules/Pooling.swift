import ModelIR

/// Pooling works on each channel alone: one-to-one.
extension ChannelAnalyzer {
    mutating func pooling(_ node: Node) {
        guard let x = node.input(0), let m = maps[x] else { return }
        guard m.kind == .channels else { return stop(node, "pooling over a flattened or channels-last tensor") }
        pass(node)
    }
}
