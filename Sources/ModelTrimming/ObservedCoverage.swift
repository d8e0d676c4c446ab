import ModelIR

/// Which channel positions carry a value the observation points speak for, so that a group's APoZ
/// says something about every value its channels take before a layer reads them.
///
/// A group ties channels across producers; its channel is scored by the observation points it
/// has. That is sound only when every value a consumer (Conv, Gemm, … reading the channel as an
/// input channel) reads is downstream of an observation point: a dead channel stays dead (or
/// constant) through one-to-one ops, channel moves, and a Mul by anything. It is not when an
/// unobserved producer is added in: MobileNetV3's first block adds its linear projection to the
/// stem's HardSwish output, and nothing observes the sum, so a channel dead at the HardSwish is
/// alive where the next block reads it.
struct ObservedCoverage {
    /// Per tensor position (as in its channel map): covered by an observation.
    private(set) var covered: [String: [Bool]] = [:]

    init(analysis: ChannelAnalysis, observed: Set<String>) {
        let graph = analysis.model.graph
        let constants = ConstantValues.resolve(graph)
        for name in graph.runtimeInputs.map(\.name) { seed(name, analysis, observed) }
        for node in graph.nodes {
            for (k, out) in node.outputs.enumerated() where !out.isEmpty {
                guard let map = analysis.map(out) else { continue }
                if observed.contains(out) {
                    covered[out] = Array(repeating: true, count: map.positionCount)
                } else if let c = compute(node, k, map, analysis, constants) {
                    covered[out] = c
                }
            }
        }
    }

    mutating func seed(_ name: String, _ analysis: ChannelAnalysis, _ observed: Set<String>) {
        guard observed.contains(name), let m = analysis.map(name) else { return }
        covered[name] = Array(repeating: true, count: m.positionCount)
    }

    /// Covered (group, channel) pairs of a tensor.
    private func coveredChannels(_ name: String, _ analysis: ChannelAnalysis) -> [Int: Set<Int>] {
        guard let m = analysis.map(name), let c = covered[name] else { return [:] }
        var out: [Int: Set<Int>] = [:]
        for (p, e) in m.positions.enumerated() where p < c.count && c[p] { out[e.group, default: []].insert(e.channel) }
        return out
    }

    func compute(_ node: Node, _ k: Int, _ outMap: ChannelMap, _ analysis: ChannelAnalysis,
                 _ constants: [String: Tensor]) -> [Bool]? {
        guard let kind = node.isDefaultDomain ? node.kind : nil else { return nil }
        let data = node.inputs.filter { !$0.isEmpty && constants[$0] == nil }
        func from(_ inputs: [String], all: Bool) -> [Bool]? {
            // An input without a channel map (a broadcast mask, say) is vouched for by nothing.
            if all, inputs.contains(where: { analysis.map($0) == nil }) { return nil }
            let sets = inputs.map { coveredChannels($0, analysis) }
            guard !sets.isEmpty else { return nil }
            return outMap.positions.map { e in
                all ? sets.allSatisfy { $0[e.group]?.contains(e.channel) == true }
                    : sets.contains { $0[e.group]?.contains(e.channel) == true }
            }
        }
        switch kind {
        case let k0 where OpKind.passesChannelsThrough.contains(k0) && k == 0:
            return node.input(0).flatMap { from([$0], all: true) }
        // Channel moves, and reductions over other axes (the channel rules pass them only then):
        // a constant channel stays constant.
        case .pad, .flatten, .reshape, .transpose, .squeeze, .unsqueeze, .slice, .split, .expand, .tile,
             .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp:
            return node.input(0).flatMap { from([$0], all: true) }
        case .concat:
            return from(data, all: false)  // each position comes from exactly one input
        case .conv where k == 0:
            // Only a depthwise Conv keeps its input's channels; it maps a constant to a constant
            // away from the borders and zero to its bias.
            // (Equal maps alone do not say so: an Add can tie a full Conv's output to its input.)
            guard let x = node.input(0), ConvAttributes(node).group > 1, analysis.map(x) == outMap else { return nil }
            return from([x], all: true)
        case .add, .sub, .sum, .max, .min, .mean, .pow:
            return k == 0 ? from(data, all: true) : nil
        case .mul:
            // Zero (or a near-zero off-region value) times anything stays so: one operand suffices.
            return k == 0 ? from(data, all: false) : nil
        case .div:
            return k == 0 ? node.input(0).flatMap { from([$0], all: true) } : nil
        default:
            return nil
        }
    }

    /// For every group: the first consumer that reads some of its channels where no observation
    /// vouches for them, as a barrier reason.
    static func unobservedReads(_ analysis: ChannelAnalysis, observed: Set<String>) -> [Int: String] {
        let coverage = ObservedCoverage(analysis: analysis, observed: observed)
        var out: [Int: String] = [:]
        for (i, node) in analysis.model.graph.nodes.enumerated() {
            guard analysis.edits[i]?.contains(where: { if case .compensate = $0 { return true } else { return false } }) == true,
                  let x = node.input(0), let m = analysis.map(x) else { continue }
            let c = coverage.covered[x] ?? []
            for (p, e) in m.positions.enumerated() where !(p < c.count && c[p]) && out[e.group] == nil {
                out[e.group] = "\(node.displayName) (\(node.opType)) reads '\(x)', which no observation point covers"
            }
        }
        return out
    }
}
