import ModelIR

/// Mean value of every channel position, carried from the observed tensors through the ops that
/// keep channels one-to-one, so a consumer knows what a removed input channel was worth.
///
/// Affine ops (BatchNormalization, a depthwise Conv, Add/Mul with a constant) carry means exactly;
/// nonlinear ones (ReLU, Clip, …) are applied to the mean, which is exact for a constant channel
/// (the case compensation is for: a dead ReLU channel) and an approximation otherwise.
struct MeanValues {
    var values: [String: [Double?]] = [:]

    init(analysis: ChannelAnalysis, statistics: [String: ChannelStatistics]) {
        let graph = analysis.model.graph
        let constants = ConstantValues.resolve(graph)
        let opset = analysis.model.defaultOpset
        for name in graph.runtimeInputs.map(\.name) { seed(name, analysis, statistics) }
        for node in graph.nodes {
            for (k, out) in node.outputs.enumerated() where !out.isEmpty && analysis.map(out) != nil {
                if k == 0, let v = compute(node, out, analysis, constants, opset) { values[out] = v }
                seed(out, analysis, statistics)
            }
        }
    }

    /// Observed means replace computed ones.
    mutating func seed(_ name: String, _ analysis: ChannelAnalysis, _ statistics: [String: ChannelStatistics]) {
        guard let s = statistics[name], let m = analysis.map(name), s.matches(m), s.mean.count == m.channelCount else { return }
        values[name] = s.mean.map { $0 }
    }

    func compute(_ node: Node, _ out: String, _ analysis: ChannelAnalysis, _ constants: [String: Tensor], _ opset: Int64) -> [Double?]? {
        guard let outMap = analysis.map(out), let kind = node.kind, let x = node.input(0) else { return nil }
        let xs = values[x]
        func unary(_ f: (Double) -> Double) -> [Double?]? { xs?.map { $0.map(f) } }
        func param(_ i: Int) -> [Double]? { node.input(i).flatMap { constants[$0] }.flatMap { try? $0.doubles } }
        switch kind {
        case .relu: return unary { Swift.max(0, $0) }
        case .leakyRelu:
            let a = Double(LeakyReluAttributes(node).alpha)
            return unary { $0 >= 0 ? $0 : a * $0 }
        case .thresholdedRelu:
            let t = Double(ThresholdedReluAttributes(node).alpha)
            return unary { $0 > t ? $0 : 0 }
        case .clip:
            let clip = ClipAttributes(node)
            let lo = opset < 11 ? Double(clip.min) : (param(1)?.first ?? -.infinity)
            let hi = opset < 11 ? Double(clip.max) : (param(2)?.first ?? .infinity)
            return unary { Swift.min(Swift.max($0, lo), hi) }
        case .sigmoid: return unary { 1 / (1 + _exp(-$0)) }
        case .tanh: return unary { let e = _exp(2 * $0); return (e - 1) / (e + 1) }
        case .neg: return unary { -$0 }
        case .identity, .dropout, .cast, .maxPool, .averagePool, .globalAveragePool, .globalMaxPool, .pad, .resize,
             .upsample, .flatten, .reshape, .transpose, .squeeze, .unsqueeze, .concat, .split, .slice:
            return relabel(node, outMap, analysis)
        case .batchNormalization:
            guard let xs, let s = param(1), let b = param(2), let m = param(3), let v = param(4),
                  [s, b, m, v].allSatisfy({ $0.count == xs.count }) else { return nil }
            let eps = Double(BatchNormalizationAttributes(node).epsilon)
            return xs.indices.map { c in xs[c].map { ($0 - m[c]) / (v[c] + eps).squareRoot() * s[c] + b[c] } }
        case .instanceNormalization:
            guard let b = param(2), b.count == outMap.positionCount else { return nil }
            return b.map { $0 }
        case .conv:
            // Only the depthwise Conv keeps its input's channel map.
            guard let xs, analysis.map(x) == outMap, let w = node.input(1).flatMap({ constants[$0] }),
                  let wv = try? w.doubles, w.dims.first == xs.count else { return nil }
            let k = wv.count / xs.count
            let b = param(2) ?? Array(repeating: 0, count: xs.count)
            return xs.indices.map { c in xs[c].map { $0 * wv[(c * k)..<((c + 1) * k)].reduce(0, +) + b[c] } }
        case .add, .sub, .mul, .div, .max, .min, .sum:
            return arithmetic(node, kind, outMap, analysis, constants)
        default:
            return nil
        }
    }

    /// Ops that only move channels: each output position takes the mean of the same group channel.
    func relabel(_ node: Node, _ outMap: ChannelMap, _ analysis: ChannelAnalysis) -> [Double?]? {
        var byChannel: [Int: [Int: Double]] = [:]
        for input in node.inputs where !input.isEmpty {
            guard let m = analysis.map(input), let v = values[input] else { continue }
            for (p, e) in m.positions.enumerated() { if let x = v[p] { byChannel[e.group, default: [:]][e.channel] = x } }
        }
        return outMap.positions.map { byChannel[$0.group]?[$0.channel] }
    }

    /// Element-wise arithmetic on per-position means and scalar or per-channel constants.
    func arithmetic(_ node: Node, _ kind: OpKind, _ outMap: ChannelMap, _ analysis: ChannelAnalysis,
                    _ constants: [String: Tensor]) -> [Double?]? {
        let n = outMap.positionCount
        var operands: [[Double?]] = []
        for input in node.inputs where !input.isEmpty {
            if let t = constants[input], let v = try? t.doubles {
                if v.count == 1 { operands.append(Array(repeating: v[0], count: n)) }
                else if v.count == n, t.dims.filter({ $0 != 1 }).count == 1 { operands.append(v.map { $0 }) }
                else { return nil }
            } else if let v = values[input], v.count == n {
                operands.append(v)
            } else if analysis.map(input).map({ $0.positionCount == 1 }) ?? false, let v = values[input]?.first {
                operands.append(Array(repeating: v, count: n))
            } else {
                return nil
            }
        }
        guard var acc = operands.first else { return nil }
        for o in operands.dropFirst() {
            acc = zip(acc, o).map { a, b -> Double? in
                guard let a, let b else { return nil }
                switch kind {
                case .add, .sum: return a + b
                case .sub: return a - b
                case .mul: return a * b
                case .div: return a / b
                case .max: return Swift.max(a, b)
                case .min: return Swift.min(a, b)
                default: return nil
                }
            }
        }
        return acc
    }
}

@inline(__always) private func _exp(_ x: Double) -> Double {
    #if canImport(Glibc)
    return Glibc.exp(x)
    #else
    return Darwin.exp(x)
    #endif
}
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
