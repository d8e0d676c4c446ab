import ModelIR

/// Element-wise arithmetic between tensors: inputs that carry channels are tied (a residual Add
/// must keep the same channels on both sides); a constant operand is sliced with them.
extension ChannelAnalyzer {
    mutating func tiedElementwise(_ node: Node) {
        guard let out = node.outputs.first, let r = rank(out) else { return stop(node, "output rank is unknown") }
        // The channel axis: 1, or the last for channels-last operands (the first mapped one says).
        let channelAxis = node.inputs.first { maps[$0] != nil }.flatMap { maps[$0]?.axis(rank: r) } ?? 1
        let outChannels = dim(out, channelAxis)
        var carried: [ChannelMap] = []
        for input in node.inputs where !input.isEmpty {
            if isConstant(input) { continue }
            // An operand broadcast along the channel axis (size 1 there) does not tie anything.
            if rank(input) == r, dim(input, channelAxis) == 1, outChannels != 1 { continue }
            if let m = maps[input], rank(input) == r { carried.append(m) } else { return stop(node, "operand '\(input)' has no channel map") }
        }
        guard let first = carried.first else { return }
        for m in carried.dropFirst() {
            guard m.kind == first.kind, m.segments.count == first.segments.count,
                  zip(m.segments, first.segments).allSatisfy({ a, b in
                      a.range == b.range && states[find(a.group)].size == states[find(b.group)].size
                  }) else {
                return stop(node, "operands hold channels in different arrangements")
            }
        }
        for m in carried.dropFirst() { for (a, b) in zip(m.segments, first.segments) { union(a.group, b.group) } }
        let axis = first.axis(rank: r)
        for (i, input) in node.inputs.enumerated() where !input.isEmpty && isConstant(input) {
            edit(.sliceBroadcast(input: i, by: out, rank: r, axis: axis))
        }
        maps[out] = first
    }
}
