import ModelIR

/// Conv and ConvTranspose: independent channels (weights [Cout, Cin/g, k…] and [Cin, Cout/g, k…]).
/// A depthwise Conv (group = Cin = Cout) passes channels through one-to-one.
extension ChannelAnalyzer {
    mutating func convolution(_ node: Node) {
        guard let x = node.input(0), let w = node.input(1), let out = node.outputs.first,
              let weight = constants[w], weight.dims.count >= 3 else {
            return stop(node, "weight is not a constant")
        }
        if let m = maps[x], m.kind != .channels { return stop(node, "convolution of a flattened or channels-last tensor") }
        let group = ConvAttributes(node).group
        let cout = weight.dims[0]
        let cin = weight.dims[1] * group
        if group == 1 {
            if maps[x] != nil {
                edit(.slice(input: 1, axis: 1, by: x))
                edit(.compensate(.conv))
            }
            fresh(out, size: cout, producer: node.displayName, barrier: nil)
            edit(.slice(input: 1, axis: 0, by: out))
            if node.input(2) != nil { edit(.slice(input: 2, axis: 0, by: out)) }
        } else if group == cin && cout == cin && weight.dims[1] == 1, let m = maps[x], m.kind == .channels {
            // Depthwise: channel c in, channel c out, filter c and bias c go with it.
            maps[out] = m
            edit(.slice(input: 1, axis: 0, by: out))
            if node.input(2) != nil { edit(.slice(input: 2, axis: 0, by: out)) }
            edit(.setGroup(by: out))
        } else {
            let reason = group == cin ? "depthwise Conv with channel multiplier \(cout / Swift.max(cin, 1))"
                : "grouped Conv (group=\(group)) would need every group to lose the same channels"
            stop(node, reason)
        }
    }

    mutating func convTranspose(_ node: Node) {
        guard let x = node.input(0), let w = node.input(1), let out = node.outputs.first,
              let weight = constants[w], weight.dims.count >= 3 else {
            return stop(node, "weight is not a constant")
        }
        if let m = maps[x], m.kind != .channels { return stop(node, "convolution of a flattened or channels-last tensor") }
        guard ConvAttributes(node).group == 1 else { return stop(node, "grouped ConvTranspose") }
        if maps[x] != nil {
            edit(.slice(input: 1, axis: 0, by: x))
            edit(.compensate(.convTranspose))
        }
        fresh(out, size: weight.dims[1], producer: node.displayName, barrier: nil)
        edit(.slice(input: 1, axis: 1, by: out))
        if node.input(2) != nil { edit(.slice(input: 2, axis: 0, by: out)) }
    }
}
