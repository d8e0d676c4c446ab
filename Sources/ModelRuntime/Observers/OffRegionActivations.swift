import ModelIR

/// An activation observed by its off region: the share of positions where its input is ≤ 0
/// (see `CountedRegion.nonPositive`), for activations that are near zero there without being
/// exactly zero (SiLU, GELU, HardSwish, ELU, LeakyRelu, PRelu, Mish, Softplus).
struct OffRegionActivation: Equatable {
    /// The activation's output (the point's tensor, whose values give the means).
    var output: String
    /// Its input, the pre-activation, whose values ≤ 0 are counted.
    var input: String
    /// The nodes inside a decomposed form other than the one writing `output` (a Sigmoid, the
    /// Clip of a hardswish, …): they are not observation points of their own.
    var inner: Set<Int>
}

extension ObservationPoints {
    /// Operators that are an off-region activation by themselves.
    static func isOffRegionOperator(_ kind: OpKind) -> Bool {
        switch kind {
        case .leakyRelu, .pRelu, .elu, .hardSwish, .gelu, .softplus: return true
        default: return false
        }
    }

    /// Every off-region activation of `graph` whose input is computed by a node: the operators
    /// of `isOffRegionOperator` and the decomposed forms exporters write instead of one operator:
    /// x·Sigmoid(x) (SiLU/Swish), x·HardSigmoid(x) (hardswish), x·Tanh(Softplus(x)) (Mish),
    /// 0.5·x·(1 + Erf(x/√2)) (GELU) and x·Clip(x + 3, 0, 6)/6 (paddle's and TF's hardswish).
    static func offRegionActivations(_ graph: Graph, opset: Int, constants: [String: Tensor]) -> [OffRegionActivation] {
        let producers = graph.producers
        var consumers: [String: [Int]] = [:]
        for (k, node) in graph.nodes.enumerated() {
            for name in Set(node.inputs) where !name.isEmpty { consumers[name, default: []].append(k) }
        }
        func node(_ name: String) -> (Int, Node)? { producers[name].map { ($0, graph.nodes[$0]) } }
        func kindOf(_ name: String) -> OpKind? {
            guard let (_, n) = node(name), n.isDefaultDomain else { return nil }
            return n.kind
        }
        func scalar(_ name: String) -> Float? {
            guard let t = constants[name], t.elementCount == 1 else { return nil }
            return try? t.floats().first
        }
        func near(_ v: Float?, _ target: Float) -> Bool { v.map { abs($0 - target) <= 1e-4 * max(1, abs(target)) } ?? false }
        /// The single Mul or Div reading `name` and its other operand (nil when `name` is read
        /// elsewhere too: then it is not an inner value of a decomposed form).
        func onlyConsumer(_ name: String) -> (Int, Node, other: String)? {
            guard let users = consumers[name], users.count == 1 else { return nil }
            let n = graph.nodes[users[0]]
            guard n.isDefaultDomain, n.kind == .mul || n.kind == .div, n.inputs.count == 2 else { return nil }
            if n.inputs[0] == name && n.inputs[1] != name { return (users[0], n, n.inputs[1]) }
            if n.kind == .mul && n.inputs[1] == name && n.inputs[0] != name { return (users[0], n, n.inputs[0]) }
            return nil
        }
        /// Follows `start` through at most two Mul/Div nodes by x and a constant `scale` (a Mul by
        /// `scale`, a Div by 1/`scale`, or a Mul by a Mul(x, scale)); the end once both were met.
        func scaledProduct(from start: String, x: String, scale: Float, inner: inout Set<Int>) -> String? {
            var current = start, seenX = false, seenScale = false
            for _ in 0..<2 {
                guard let (k, n, other) = onlyConsumer(current), let out = n.outputs.first else { return nil }
                if n.kind == .mul && other == x && !seenX {
                    seenX = true
                } else if n.kind == .mul && near(scalar(other), scale) && !seenScale {
                    seenScale = true
                } else if n.kind == .div && n.inputs[1] == other && near(scalar(other), 1 / scale) && !seenScale {
                    seenScale = true
                } else if n.kind == .mul, !seenX, !seenScale, let (m, scaled) = node(other), scaled.kind == .mul,
                          Set(scaled.inputs).contains(x), scaled.inputs.contains(where: { near(scalar($0), scale) }),
                          consumers[other]?.count == 1 {
                    (seenX, seenScale) = (true, true)
                    inner.insert(m)
                } else {
                    return nil
                }
                if seenX && seenScale { return out }
                inner.insert(k)
                current = out
            }
            return nil
        }

        var found: [OffRegionActivation] = []
        for (k, n) in graph.nodes.enumerated() where n.isDefaultDomain {
            guard let kind = n.kind, let out = n.outputs.first, !out.isEmpty else { continue }
            switch kind {
            case _ where isOffRegionOperator(kind):
                guard let x = n.input(0), producers[x] != nil else { continue }
                found.append(OffRegionActivation(output: out, input: x, inner: []))
            case .mul:
                // x·g(x) with g = Sigmoid, HardSigmoid or Tanh∘Softplus.
                guard n.inputs.count == 2 else { continue }
                for (x, g) in [(n.inputs[0], n.inputs[1]), (n.inputs[1], n.inputs[0])] where producers[x] != nil {
                    guard let (gk, gate) = node(g), gate.input(0) != nil, consumers[g]?.count == 1 else { continue }
                    if (kindOf(g) == .sigmoid || kindOf(g) == .hardSigmoid) && gate.input(0) == x {
                        found.append(OffRegionActivation(output: out, input: x, inner: [gk]))
                        break
                    }
                    if kindOf(g) == .tanh, let s = gate.input(0), kindOf(s) == .softplus, let (sk, softplus) = node(s),
                       softplus.input(0) == x, consumers[s]?.count == 1 {
                        found.append(OffRegionActivation(output: out, input: x, inner: [gk, sk]))
                        break
                    }
                }
            case .erf:
                // Erf(x/√2) or Erf(x·(1/√2)), then + 1, then ·x and ·0.5 in either order.
                guard let e = n.input(0), let (dk, d) = node(e), d.inputs.count == 2, consumers[e]?.count == 1,
                      (d.kind == .div && near(scalar(d.inputs[1]), 1.4142135))
                        || (d.kind == .mul && d.inputs.contains { near(scalar($0), 0.70710677) }) else { continue }
                guard let x = d.inputs.first(where: { scalar($0) == nil }), producers[x] != nil,
                      let users = consumers[out], users.count == 1 else { continue }
                let add = graph.nodes[users[0]]
                guard add.kind == .add, add.inputs.contains(where: { near(scalar($0), 1) }), let sum = add.outputs.first
                else { continue }
                var inner: Set<Int> = [dk, k, users[0]]
                if let end = scaledProduct(from: sum, x: x, scale: 0.5, inner: &inner) {
                    found.append(OffRegionActivation(output: end, input: x, inner: inner))
                }
            case .clip:
                // Clip(x + 3, 0, 6), ·x and ·1/6 (or /6) in either order.
                guard clipLowerBound(n, opset: opset, constants) == 0, clipUpperBound(n, opset: opset, constants) == 6,
                      let a = n.input(0), let (ak, add) = node(a), add.kind == .add, add.inputs.count == 2,
                      consumers[a]?.count == 1, add.inputs.contains(where: { near(scalar($0), 3) }),
                      let x = add.inputs.first(where: { scalar($0) == nil }), producers[x] != nil else { continue }
                var inner: Set<Int> = [ak, k]
                if let end = scaledProduct(from: out, x: x, scale: 1 / 6, inner: &inner) {
                    found.append(OffRegionActivation(output: end, input: x, inner: inner))
                }
            default:
                continue
            }
        }
        // A Softplus inside a Mish is not an activation of its own.
        let inner = found.reduce(into: Set<Int>()) { $0.formUnion($1.inner) }
        let innerOutputs = Set(inner.compactMap { graph.nodes[$0].outputs.first })
        return found.filter { !innerOutputs.contains($0.output) }
    }

    /// Clip's max: an attribute before opset 11, a constant input from then on.
    static func clipUpperBound(_ node: Node, opset: Int, _ constants: [String: Tensor]) -> Float? {
        if opset < 11 { return ClipAttributes(node).max }
        guard let name = node.input(2), let t = constants[name], t.elementCount == 1 else { return nil }
        return try? t.floats().first
    }
}
