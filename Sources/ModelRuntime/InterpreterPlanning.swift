import ModelIR

/// Planning: resolving nodes to kernels, folding constant nodes, releases, fusable chains.
extension Interpreter {
    /// Nodes of `model`'s main graph that no kernel executes at the model's opset.
    public static func unsupportedNodes(in model: Model) -> [Node] {
        unsupportedNodes(in: model.graph, opsets: model.opsetVersions)
    }

    static func unsupportedNodes(in graph: Graph, opsets: [String: Int]) -> [Node] {
        graph.nodes.filter { KernelRegistry.entry(for: $0, opsets: opsets) == nil }
    }

    func slot(_ name: String) -> Int {
        if let s = slotOf[name] { return s }
        let s = slotOf.count
        slotOf[name] = s
        return s
    }

    func plan() throws {
        let unsupported = Interpreter.unsupportedNodes(in: graph, opsets: opsets)
        if !unsupported.isEmpty {
            let list = unsupported.map { n -> String in
                let domain = n.normalizedDomain
                let version = opsets[domain].map { "opset \($0)" } ?? "domain '\(domain)' not imported"
                return "\(n.displayName) (\(domain.isEmpty ? "" : domain + ".")\(n.opType), \(version))"
            }
            throw ModelError("\(unsupported.count) node(s) use operators the runtime does not support: "
                + list.joined(separator: ", "))
        }
        var constantValue: [Int: RuntimeTensor] = [:]
        for t in graph.initializers {
            do { constantValue[slot(t.name)] = try RuntimeTensor(t) } catch let e as ModelError {
                throw e.at("initializer '\(t.name)'")
            }
            // The runtime keeps its own copy: the tensor's pages of a mapped model file need not
            // stay resident beside it (they are read again if the model is written or run again).
            t.bytes?.releaseResidentPages()
        }
        let initializerNames = Set(graph.initializers.map(\.name))
        inputSlots = graph.inputs.filter { !initializerNames.contains($0.name) }.map { ($0, slot($0.name)) }

        // Folding runs kernels on the file's constants: a shape computation that expands
        // (ConstantOfShape, Tile or Expand of constants) could ask for terabytes from a tiny
        // file. Folded results may take at most 64 MiB plus 8 times the initializers' bytes.
        let weightBytes = graph.initializers.reduce(0) { $0 + ($1.bytes?.count ?? 0) }
        let folding = ExecContext(arena: Arena(byteLimit: Arena.foldingLimit(weightBytes: weightBytes)), threads: threads)
        for node in graph.nodes {
            let entry = KernelRegistry.entry(for: node, opsets: opsets)!
            let opset = opsets[OperatorSetDomain.onnx]!
            let place = "node '\(node.displayName)' (\(node.opType))"
            let run: OperatorFunction
            do { run = try entry.make(node, opset) } catch let e as ModelError { throw e.at(place) }
            let ins = node.inputs.map { $0.isEmpty ? nil : slot($0) }
            let outs = node.outputs.map { $0.isEmpty ? nil : slot($0) }
            if ins.allSatisfy({ $0 == nil || constantValue[$0!] != nil }) {
                // Every input is known: evaluate now, once, instead of on every batch.
                let results: [RuntimeTensor]
                do { results = try run(ins.map { $0.flatMap { constantValue[$0] } }, folding) } catch let e as ModelError {
                    throw e.at(place)
                }
                for (k, o) in outs.enumerated() { if let o, k < results.count { constantValue[o] = results[k] } }
                continue
            }
            steps.append(Step(node: node, opset: opset, run: run, inputs: ins, outputs: outs))
        }
        constants = constantValue.map { ($0.key, $0.value) }
        outputSlots = graph.outputs.map { ($0.name, slot($0.name)) }
        // Sets, not searches of the step list per output: a file may declare thousands of outputs.
        let fedSlots = Set(inputSlots.map(\.slot))
        let producedSlots = Set(steps.flatMap { $0.outputs.compactMap { $0 } })
        for (name, s) in outputSlots where constantValue[s] == nil && !fedSlots.contains(s) && !producedSlots.contains(s) {
            throw ModelError("graph output '\(name)' is not produced by any node, input or initializer")
        }

        // Release each intermediate after its last reader; never constants or graph outputs.
        let keep = Set(outputSlots.map(\.slot)).union(constantValue.keys)
        var lastUse: [Int: Int] = [:]
        for (k, step) in steps.enumerated() {
            for case let s? in step.inputs { lastUse[s] = k }
            for case let s? in step.outputs where lastUse[s] == nil { lastUse[s] = k }
        }
        for (s, k) in lastUse where !keep.contains(s) { steps[k].release.append(s) }

        var readers: [Int: Int] = [:]
        for step in steps { for s in Set(step.inputs.compactMap { $0 }) { readers[s, default: 0] += 1 } }
        let infos = steps.map { Fusion.StepInfo(node: $0.node, opset: $0.opset, inputs: $0.inputs, outputs: $0.outputs) }
        for chain in Fusion.chains(infos, readers: readers, keep: keep, constant: { constantValue[$0] }) {
            let first = steps[chain.steps[0]], last = steps[chain.steps.last!]
            // Releases stay with the member steps, which are still visited (and skipped) in order.
            chains[chain.steps[0]] = FusedChain(
                members: chain.steps,
                step: Step(node: last.node, opset: last.opset, run: chain.run, inputs: first.inputs, outputs: last.outputs))
        }
        planBlockedLayout(keep: keep, constant: { constantValue[$0] })
        splitsBatches = BatchIndependence.holds(for: graph, steps: steps.map(\.node), opset: opsets[OperatorSetDomain.onnx] ?? 1,
                                                constant: { name in self.slotOf[name].flatMap { constantValue[$0] } })
    }
}
