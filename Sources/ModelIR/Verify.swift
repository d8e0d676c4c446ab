/// Structural checks every pass relies on: each value is defined once, before it is used, and
/// every stored tensor has the size its dims call for.
extension Graph {
    /// Throws the first problem found: an undefined value, a value produced twice, a cycle, or
    /// tensor data that disagrees with its dims. Subgraphs are checked with the enclosing scope
    /// visible, as ONNX scoping allows.
    public func verify(outerScope: Set<String> = []) throws {
        var defined = outerScope
        var local = Set<String>()
        func define(_ name: String, by what: String) throws {
            guard !name.isEmpty else { return }
            if local.contains(name) { throw ModelError("value '\(name)' is defined twice (again by \(what))") }
            local.insert(name)
            defined.insert(name)
        }
        for t in initializers {
            try t.validate()
            try define(t.name, by: "initializer")
        }
        for s in sparseInitializers {
            try s.values.validate()
            try s.indices.validate()
            try define(s.name, by: "sparse initializer")
        }
        // An input may repeat an initializer's name: that initializer is the input's default value.
        let initializerNames = Set(initializers.map(\.name) + sparseInitializers.map(\.name))
        for v in inputs where !initializerNames.contains(v.name) { try define(v.name, by: "graph input") }

        let producedLater = producers
        for (index, node) in nodes.enumerated() {
            for input in node.inputs where !input.isEmpty && !defined.contains(input) {
                if let p = producedLater[input], p >= index {
                    if let cycle = findCycle() {
                        throw ModelError("the graph has a cycle through nodes \(cycle.joined(separator: " -> "))")
                    }
                    throw ModelError("node '\(node.displayName)' uses '\(input)' before node '\(nodes[p].displayName)' produces it (nodes are not in topological order)")
                }
                throw ModelError("node '\(node.displayName)' (\(node.opType)) uses undefined value '\(input)'")
            }
            for attribute in node.attributes {
                for g in attribute.subgraphs {
                    do { try g.verify(outerScope: defined) } catch let e as ModelError {
                        throw e.at("in subgraph '\(attribute.name)' of node '\(node.displayName)'")
                    }
                }
                if case .tensor(let t) = attribute.value {
                    do { try t.validate() } catch let e as ModelError { throw e.at("node '\(node.displayName)'") }
                }
            }
            for output in node.outputs { try define(output, by: "node '\(node.displayName)'") }
        }
        for v in outputs where !defined.contains(v.name) {
            throw ModelError("graph output '\(v.name)' is not produced by any node, input or initializer")
        }
    }

    /// Node names along one cycle, or nil when the node dependencies are acyclic.
    public func findCycle() -> [String]? {
        let producer = producers
        // 0 = unvisited, 1 = on the current path, 2 = done.
        var state = [UInt8](repeating: 0, count: nodes.count)
        var path: [Int] = []
        func visit(_ i: Int) -> [Int]? {
            state[i] = 1
            path.append(i)
            for input in nodes[i].inputs where !input.isEmpty {
                guard let p = producer[input] else { continue }
                if state[p] == 1 { return Array(path[path.firstIndex(of: p)!...]) + [p] }
                if state[p] == 0, let c = visit(p) { return c }
            }
            path.removeLast()
            state[i] = 2
            return nil
        }
        for i in nodes.indices where state[i] == 0 {
            if let c = visit(i) { return c.reversed().map { nodes[$0].displayName } }
        }
        return nil
    }

    /// The same graph with nodes reordered so that each comes after the producers of its inputs;
    /// nodes already in order keep their order. Throws on a cycle.
    public func topologicallySorted() throws -> Graph {
        let producer = producers
        var remaining = nodes.indices.map { i in
            Set(nodes[i].inputs.compactMap { producer[$0] }.filter { $0 != i })
        }
        var done = [Bool](repeating: false, count: nodes.count)
        var order: [Int] = []
        var progress = true
        while order.count < nodes.count && progress {
            progress = false
            for i in nodes.indices where !done[i] && remaining[i].allSatisfy({ done[$0] }) {
                done[i] = true
                order.append(i)
                progress = true
                remaining[i] = []
            }
        }
        guard order.count == nodes.count else {
            throw ModelError("the graph has a cycle through nodes \((findCycle() ?? []).joined(separator: " -> "))")
        }
        var sorted = self
        sorted.nodes = order.map { nodes[$0] }
        return sorted
    }
}
