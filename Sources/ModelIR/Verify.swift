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
        // 0 = unvisited, 1 = on the current path, 2 = done. Depth-first with an explicit stack: a
        // chain of 100,000 nodes would overflow the call stack of a recursive walk.
        var state = [UInt8](repeating: 0, count: nodes.count)
        var path: [Int] = []
        var positionOnPath = [Int](repeating: -1, count: nodes.count)
        var nextInput: [Int] = []  // per path entry: the next input of that node to look at
        for root in nodes.indices where state[root] == 0 {
            state[root] = 1
            positionOnPath[root] = 0
            path = [root]
            nextInput = [0]
            while let i = path.last {
                let inputs = nodes[i].inputs
                var descended = false
                while nextInput[nextInput.count - 1] < inputs.count {
                    let input = inputs[nextInput[nextInput.count - 1]]
                    nextInput[nextInput.count - 1] += 1
                    guard !input.isEmpty, let p = producer[input] else { continue }
                    if state[p] == 1 {
                        let cycle = Array(path[positionOnPath[p]...]) + [p]
                        return cycle.reversed().map { nodes[$0].displayName }
                    }
                    if state[p] == 0 {
                        state[p] = 1
                        positionOnPath[p] = path.count
                        path.append(p)
                        nextInput.append(0)
                        descended = true
                        break
                    }
                }
                if !descended {
                    state[i] = 2
                    path.removeLast()
                    nextInput.removeLast()
                }
            }
        }
        return nil
    }

    /// The same graph with nodes reordered so that each comes after the producers of its inputs;
    /// nodes already in order keep their order. Throws on a cycle.
    public func topologicallySorted() throws -> Graph {
        let producer = producers
        // Kahn's algorithm, always taking the lowest-numbered ready node (a min-heap), so an
        // ordered graph keeps its order; O((nodes + edges) log nodes) where repeated passes over
        // the nodes were quadratic for a chain stored backwards.
        var waitingFor = [Int](repeating: 0, count: nodes.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for i in nodes.indices {
            for p in Set(nodes[i].inputs.compactMap({ producer[$0] })) where p != i {
                waitingFor[i] += 1
                dependents[p].append(i)
            }
        }
        var ready = MinHeap(nodes.indices.filter { waitingFor[$0] == 0 })
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let i = ready.pop() {
            order.append(i)
            for d in dependents[i] {
                waitingFor[d] -= 1
                if waitingFor[d] == 0 { ready.push(d) }
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

/// A binary min-heap of node indices.
private struct MinHeap {
    private var items: [Int] = []

    init(_ values: [Int]) { for v in values { push(v) } }

    mutating func push(_ v: Int) {
        items.append(v)
        var k = items.count - 1
        while k > 0, items[(k - 1) / 2] > items[k] {
            items.swapAt(k, (k - 1) / 2)
            k = (k - 1) / 2
        }
    }

    mutating func pop() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var k = 0
            while true {
                let l = 2 * k + 1, r = l + 1
                var m = k
                if l < items.count, items[l] < items[m] { m = l }
                if r < items.count, items[r] < items[m] { m = r }
                if m == k { break }
                items.swapAt(k, m)
                k = m
            }
        }
        return top
    }
}
