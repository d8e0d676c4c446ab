import ModelIR

/// Values known before any input is fed.
enum ConstantValues {
    /// Initializers (unless overridable graph inputs), Constant outputs, and Identity of either.
    static func resolve(_ graph: Graph) -> [String: Tensor] {
        let fed = Set(graph.inputs.map(\.name))
        var values: [String: Tensor] = [:]
        for t in graph.initializers where !fed.contains(t.name) { values[t.name] = t }
        for node in graph.nodes {
            guard node.isDefaultDomain, let out = node.outputs.first, !out.isEmpty else { continue }
            switch node.kind {
            case .constant: if let t = constantNodeValue(node) { values[out] = t }
            case .identity: if let x = node.input(0), var t = values[x] { t.name = out; values[out] = t }
            default: break
            }
        }
        return values
    }

    /// A Constant node's value, from whichever attribute holds it.
    static func constantNodeValue(_ node: Node) -> Tensor? {
        guard let a = node.attributes.first else { return nil }
        switch (a.name, a.value) {
        case ("value", .tensor(let t)): return t
        case ("value_float", .float(let v)): return Tensor(floats: [v], dims: [])
        case ("value_floats", .floats(let v)): return Tensor(floats: v, dims: [v.count])
        case ("value_int", .int(let v)): return Tensor(int64s: [v], dims: [])
        case ("value_ints", .ints(let v)): return Tensor(int64s: v, dims: [v.count])
        default: return nil
        }
    }

    /// Names a subgraph reads from its enclosing scopes.
    static func outerNames(_ g: Graph) -> Set<String> {
        var defined = Set(g.inputs.map(\.name) + g.initializers.map(\.name))
        var used = Set<String>()
        for n in g.nodes {
            for i in n.inputs where !i.isEmpty && !defined.contains(i) { used.insert(i) }
            for a in n.attributes { for sub in a.subgraphs { used.formUnion(outerNames(sub).subtracting(defined)) } }
            defined.formUnion(n.outputs)
        }
        for o in g.outputs where !defined.contains(o.name) { used.insert(o.name) }
        return used
    }
}
