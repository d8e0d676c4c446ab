import ModelIR
import ModelRuntime

/// Gradients of the operators that only move elements. Views (Flatten, Reshape, Squeeze,
/// Unsqueeze, Identity) pass the gradient on reshaped. The others (Transpose, Concat, Split, Slice,
/// Gather, Expand, Tile, Pad, nearest Resize/Upsample) are routed: the node's own forward kernel
/// is run once per input shape on tensors whose elements are their own indices, which tells for
/// every output element the input element it copies (or none, for padding). The gradient then
/// adds each output's gradient onto its source. Exact, whatever the attributes, and the same
/// code for every such operator.
enum DataMovementGradients {
    static let view = GradientRule.differentiable { g in
        guard g.wants(0) else { return [nil] }
        let x = try g.input(0)
        return [try g.grad().viewed(as: x.shape)] + Array(repeating: nil, count: max(0, g.inputs.count - 1))
    }

    static let routed = GradientRule.differentiable { g in
        guard let kernel = g.kernel else { throw ModelError("no forward kernel to route the gradient through") }
        let wanted = g.inputs.indices.filter { g.wants($0) && g.inputs[$0] != nil }
        var result = [RuntimeTensor?](repeating: nil, count: g.inputs.count)
        guard !wanted.isEmpty else { return result }
        let key = [wanted] + g.inputs.map { $0?.shape ?? [-1] }
        let routes: [[Int]]
        if let known = g.cache.routes[key] {
            routes = known
        } else {
            routes = try route(g, kernel, wanted)
            g.cache.routes[key] = routes
        }
        var offsets: [Int] = [], total = 0
        for i in wanted {
            offsets.append(total)
            total += g.inputs[i]!.count
        }
        let flat = try RuntimeTensor.filled([total])
        let fp = flat.floatPointer
        for (k, map) in routes.enumerated() {
            guard k < g.outputGrads.count, let dy = g.outputGrads[k] else { continue }
            let dyp = dy.floatPointer
            for (j, source) in map.enumerated() where source >= 0 { fp[source] += dyp[j] }
        }
        for (n, i) in wanted.enumerated() {
            let x = g.inputs[i]!
            let t = try RuntimeTensor.uninitialized(x.shape)
            t.floatPointer.update(from: fp + offsets[n], count: x.count)
            result[i] = t
        }
        return result
    }

    /// For each output, the flat source index (over the wanted inputs laid end to end) of every
    /// element, or −1 where the element is not a copy of one (padding, a constant input).
    ///
    /// Indices are written as digits of base 2²², each exact in float32, and each digit is run
    /// twice, as d + 1 and d + 2: an element that differs by exactly 1 between the two runs is a
    /// copy; one that does not is a constant.
    static func route(_ g: GradientInputs, _ kernel: NodeKernel, _ wanted: [Int]) throws -> [[Int]] {
        let base = 1 << 22
        let total = wanted.reduce(0) { $0 + g.inputs[$1]!.count }
        var digits = 1, reach = base
        while reach < total { digits += 1; reach *= base }
        let arena = Arena()
        var routes: [[Int]]? = nil
        var place = 1
        for _ in 0..<digits {
            var runs: [[RuntimeTensor]] = []
            for shift in [1, 2] {
                var inputs = g.inputs
                var at = 0
                for i in wanted {
                    let x = g.inputs[i]!
                    let codes = try RuntimeTensor.uninitialized(x.shape)
                    let p = codes.floatPointer
                    for e in 0..<x.count { p[e] = Float(((at + e) / place) % base + shift) }
                    inputs[i] = codes
                    at += x.count
                }
                runs.append(try kernel(inputs, arena: arena, threads: 1))
            }
            // Only float outputs carry gradients; integer ones (a Dropout mask, say) route nothing.
            if routes == nil { routes = runs[0].map { [Int](repeating: $0.elementType == .float32 ? 0 : -1, count: $0.count) } }
            for k in runs[0].indices where runs[0][k].elementType == .float32 {
                let a = runs[0][k].floatPointer, b = runs[1][k].floatPointer
                for j in 0..<runs[0][k].count where routes![k][j] >= 0 {
                    if b[j] - a[j] == 1, a[j] >= 1 {
                        routes![k][j] += (Int(a[j]) - 1) * place
                    } else {
                        routes![k][j] = -1
                    }
                }
            }
            place *= base
        }
        return routes ?? []
    }

    /// Resize and Upsample move elements only in nearest mode.
    static func resize(_ node: Node) -> GradientRule {
        ResizeAttributes(node, legacy: node.kind == .upsample).mode == "nearest" ? routed : .unsupported
    }
}
