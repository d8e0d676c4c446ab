import ModelIR

/// The channel-blocked layout plan: which steps take blocked inputs and which convolutions write
/// blocked outputs.
extension Interpreter {
    /// How a step takes channel-blocked inputs (`BlockedLayout`); any other blocked input is
    /// converted to plain NCHW before the step runs.
    enum BlockedUse {
        case none
        /// Input 0 as it is: the operator reads either layout (Conv, pooling).
        case operatorInput
        /// An element-wise function of input 0: it runs on the blocked storage as it is, and its
        /// output is blocked too.
        case elementwise
        /// Element-wise over inputs of one shape: blocked when all of them are.
        case sameShape
        /// Concat along channels: the operator joins blocked inputs when all of them are.
        case channelConcat

        /// The use a node's operator makes of the blocked layout.
        init(_ node: Node, opset: Int) {
            self = .none
            guard let kind = node.kind else { return }
            switch kind {
            case .conv, .globalAveragePool, .globalMaxPool, .batchNormalization:
                self = .operatorInput
            case .maxPool, .averagePool:
                // Not with MaxPool's indices, which count positions in the plain layout.
                if node.outputs.count == 1 || node.outputs[1].isEmpty { self = .operatorInput }
            case .concat:
                let axis = node.axis(opset: Int64(opset))
                if axis == 1 || axis == -3 { self = .channelConcat }
            case _ where kind.isElementwiseUnary:
                if node.outputs.count == 1 { self = .elementwise }
            case _ where kind.channelFlow == .tiedAcrossInputs:
                self = .sameShape
            default:
                // The kernels of every other operator read plain NCHW.
                break
            }
        }
    }

    /// Marks each step's use of the blocked layout, and which convolutions write their output
    /// blocked: those whose every reader keeps it blocked (not a graph output, not an operator
    /// that would convert it). Which tensors end up blocked follows from the convolutions (see
    /// `BlockedUse`), so the decision is repeated until no convolution changes its mind: a Concat
    /// keeps blocked inputs only when all of them are.
    func planBlockedLayout(keep: Set<Int>, constant: (Int) -> RuntimeTensor?) {
        for k in steps.indices { steps[k].blockedUse = BlockedUse(steps[k].node, opset: steps[k].opset) }
        // The steps as they run when chains run fused: (index, inputs, output).
        var order: [(k: Int, inputs: [Int?], output: Int?)] = []
        var k = 0
        while k < steps.count {
            let step = chains[k]?.step ?? steps[k]
            order.append((k, step.inputs, step.outputs.count == 1 ? step.outputs[0] : nil))
            k += chains[k]?.members.count ?? 1
        }
        var readers: [Int: [(k: Int, input: Int)]] = [:]
        for (k, inputs, _) in order { for (i, s) in inputs.enumerated() { if let s { readers[s, default: []].append((k, i)) } } }
        let inputsOf = Dictionary(uniqueKeysWithValues: order.map { ($0.k, $0.inputs) })
        /// A Conv's W [M, C/group, kh, kw] when constant, and its group.
        func weights(_ k: Int) -> (shape: [Int], group: Int)? {
            let step = steps[k]
            guard step.node.kind == .conv, step.blockedUse == .operatorInput, step.inputs.count > 1,
                  let s = step.inputs[1], let w = constant(s), w.rank == 4 else { return nil }
            return (w.shape, ConvAttributes(step.node).group)
        }
        func isDepthwise(_ w: (shape: [Int], group: Int)) -> Bool {
            w.group > 1 && w.shape[0] == w.group && w.shape[1] == 1
        }
        var writes: [Int: Bool] = [:]
        /// Convolutions whose output channels end in a padded block (`BlockedLayout.paddedChannels`):
        /// only convolutions read such an output blocked (they read C channels, never the pad).
        var padded = Set<Int>()
        for (k, _, output) in order where output != nil {
            if let w = weights(k), w.group == 1 || isDepthwise(w) {
                writes[k] = true
                if w.shape[0] % BlockedLayout.lanes != 0 { padded.insert(k) }
            }
        }
        while true {
            var blocked = Set<Int>()
            for (k, inputs, output) in order {
                guard let output else { continue }
                let present = inputs.compactMap { $0 }
                let input0 = inputs.first.flatMap { $0 }.map { blocked.contains($0) } ?? false
                let all = !present.isEmpty && present.allSatisfy { blocked.contains($0) }
                let node = steps[k].node
                switch steps[k].blockedUse {
                case .operatorInput where writes[k] == true:
                    // A depthwise convolution runs blocked only from a blocked input.
                    if let w = weights(k), !isDepthwise(w) || input0 { blocked.insert(output) }
                case .operatorInput where node.kind == .maxPool || node.kind == .averagePool || node.kind == .batchNormalization:
                    if input0 { blocked.insert(output) }
                case .elementwise where input0:
                    blocked.insert(output)
                case .sameShape where all, .channelConcat where all:
                    blocked.insert(output)
                default:
                    break
                }
            }
            func keepsBlocked(_ r: (k: Int, input: Int)) -> Bool {
                switch steps[r.k].blockedUse {
                case .none: return false
                case .operatorInput:
                    guard r.input == 0 else { return false }
                    if steps[r.k].node.kind != .conv { return true }
                    guard let w = weights(r.k) else { return false }
                    return w.group == 1 || isDepthwise(w)
                case .elementwise: return r.input == 0
                case .sameShape, .channelConcat:
                    return inputsOf[r.k]!.allSatisfy { $0 == nil || blocked.contains($0!) }
                }
            }
            /// A convolution reading a padded output: one that takes it blocked as input 0.
            func readsPadded(_ r: (k: Int, input: Int)) -> Bool {
                steps[r.k].node.kind == .conv && keepsBlocked(r)
            }
            var changed = false
            for (k, _, output) in order where writes[k] == true {
                let isPadded = padded.contains(k)
                let kept = output.map { o in
                    !keep.contains(o) && (readers[o]?.allSatisfy { isPadded ? readsPadded($0) : keepsBlocked($0) } ?? false)
                } ?? false
                if !kept { (writes[k], changed) = (false, true) }
            }
            if !changed { break }
        }
        for k in steps.indices { steps[k].readsPaddedBlocks = steps[k].node.kind == .conv && steps[k].blockedUse == .operatorInput }
        for (k, chain) in chains {
            chain.step.blockedUse = steps[k].blockedUse
            chain.step.blockedOutput = writes[k] == true
            chain.step.readsPaddedBlocks = steps[k].readsPaddedBlocks
        }
        for (k, wants) in writes where wants && chains[k] == nil { steps[k].blockedOutput = true }
    }
}
