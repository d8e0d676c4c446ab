import ModelIR

/// A trimmed model and the remarks made while trimming.
public struct TrimResult: Sendable {
    public let plan: TrimPlan
    public let model: Model
    /// One line per thing worth knowing (a consumer left uncompensated, for instance).
    public let notes: [TrimNote]
}

extension TrimPlan {
    /// Performs the plan on a copy of the model: slices every affected weight, bias, batch-norm
    /// parameter, depthwise filter and per-channel constant, patches shape constants and group
    /// counts, compensates consumers, recomputes value_info, re-infers shapes and verifies.
    public func apply() throws -> TrimResult {
        var rewriter = Rewriter(plan: self)
        let model = try rewriter.run()
        return TrimResult(plan: self, model: model, notes: notes + rewriter.notes)
    }
}

struct Rewriter {
    let plan: TrimPlan
    let analysis: ChannelAnalysis
    let removed: [Int: Set<Int>]
    let constants: [String: Tensor]
    let means: MeanValues?
    var notes: [TrimNote] = []
    var keptCache: [String: [Int]] = [:]
    /// How many node inputs read each value in the original graph.
    let uses: [String: Int]
    var names: Set<String>
    /// Names of the original graph's initializers and of its declared inputs (built once: `store`
    /// asks for every edited parameter, and building them there made a trim of thousands of
    /// layers quadratic).
    let initializerNames: Set<String>
    let inputNames: Set<String>
    var replaced: [String: Tensor] = [:]
    var added: [Tensor] = []
    /// Values no longer read by the node they were rewired away from.
    var abandoned: Set<String> = []

    init(plan: TrimPlan) {
        self.plan = plan
        analysis = plan.analysis
        removed = plan.removed
        let graph = plan.analysis.model.graph
        constants = ConstantValues.resolve(graph)
        means = plan.options.compensate ? MeanValues(analysis: plan.analysis, statistics: plan.statistics) : nil
        var uses: [String: Int] = [:]
        for n in graph.nodes { for i in n.inputs where !i.isEmpty { uses[i, default: 0] += 1 } }
        for o in graph.outputs { uses[o.name, default: 0] += 1 }
        self.uses = uses
        names = Set(graph.initializers.map(\.name) + graph.inputs.map(\.name) + graph.nodes.flatMap(\.outputs))
        initializerNames = Set(graph.initializers.map(\.name))
        inputNames = Set(graph.inputs.map(\.name))
    }

    mutating func kept(_ t: String) -> [Int] {
        if let k = keptCache[t] { return k }
        let k = analysis.map(t)?.kept(removed) ?? []
        keptCache[t] = k
        return k
    }
    func count(_ t: String) -> Int { analysis.map(t)?.positionCount ?? 0 }
    mutating func changed(_ t: String) -> Bool { analysis.map(t) != nil && kept(t).count < count(t) }

    mutating func unique(_ base: String) -> String {
        var name = base, k = 1
        while names.contains(name) { k += 1; name = "\(base)_\(k)" }
        names.insert(name)
        return name
    }

    mutating func run() throws -> Model {
        var model = analysis.model
        let original = model.graph
        var nodes: [Node] = []
        for (i, node) in original.nodes.enumerated() {
            var n = node
            var extra: [Node] = []
            if let edits = analysis.edits[i] {
                do { try rewrite(&n, edits, &extra) } catch let e as ModelError {
                    throw e.at("node '\(node.displayName)' (\(node.opType))")
                }
            }
            nodes.append(n)
            nodes += extra
        }
        var g = original
        g.nodes = nodes
        g.initializers = g.initializers.map { replaced[$0.name] ?? $0 } + added
        removeAbandoned(&g)
        try refreshTypes(&g, original: original, opset: model.defaultOpset)
        try g.verify()
        model.graph = g
        return model
    }

    // MARK: One node

    mutating func rewrite(_ node: inout Node, _ edits: [ParameterEdit], _ extra: inout [Node]) throws {
        var working: [Int: Tensor] = [:]
        func value(_ k: Int) throws -> Tensor {
            if let t = working[k] { return t }
            guard let name = node.input(k), let t = constants[name] else { throw ModelError("input \(k) is not a constant") }
            return t
        }
        var delta: [Double]?
        // The compensation first: it reads the original weights, which the slices below give back
        // to the file as they go (read after them, VGG-16's fc6 came back whole, 411 MB).
        for case .compensate(let how) in edits {
            if means != nil, let x = node.input(0), changed(x) { delta = try compensation(node, how, x) }
        }
        // Every axis a constant input loses, sliced in one pass (see `Tensor.sliced(keeping:)`).
        var slices: [Int: [Int: [Int]]] = [:]
        for case .slice(let k, let axis, let by) in edits where changed(by) {
            let t = try value(k)
            guard axis < t.dims.count, t.dims[axis] == count(by), slices[k]?[axis] == nil else {
                throw ModelError("'\(node.inputs[k])' has dims \(t.dims), expected \(count(by)) along axis \(axis)")
            }
            slices[k, default: [:]][axis] = kept(by)
        }
        for (k, keeping) in slices.sorted(by: { $0.key < $1.key }) {
            let t = try value(k)
            working[k] = try t.sliced(keeping: keeping)
            // The original's pages (a mapped file's) need not stay resident once sliced: the
            // trimmed copy is what is written.
            t.bytes?.releaseResidentPages()
        }
        for e in edits {
            switch e {
            case .compensate, .slice:
                continue  // done above
            case .sliceBroadcast(let k, let by, let rank, let axis):
                guard changed(by) else { continue }
                let t = try value(k)
                let a = axis - (rank - t.dims.count)
                guard a >= 0, a < t.dims.count, t.dims[a] != 1 else { continue }
                guard t.dims[a] == count(by) else { throw ModelError("'\(node.inputs[k])' does not broadcast along the channels") }
                working[k] = try t.sliced(axis: a, kept: kept(by))
            case .setGroup(let by):
                guard changed(by) else { continue }
                node.setAttribute(Attribute("group", .int(Int64(kept(by).count))))
            case .patchElement(let k, let element, let by):
                guard changed(by) else { continue }
                let t = try value(k)
                var v = try t.int64s()
                guard element < v.count else { throw ModelError("shape '\(node.inputs[k])' has no element \(element)") }
                v[element] = Int64(kept(by).count)
                working[k] = Tensor(name: t.name, int64s: v, dims: t.dims)
            case .splitSizes:
                guard node.outputs.contains(where: { changed($0) }) else { continue }
                let sizes = node.outputs.map { Int64(kept($0).count) }
                if plan.analysis.model.defaultOpset < 13 {
                    node.setAttribute(Attribute("split", .ints(sizes)))
                } else {
                    node.attributes.removeAll { $0.name == "num_outputs" }
                    working[1] = Tensor(name: "split", int64s: sizes, dims: [sizes.count])
                }
            }
        }
        if let delta, delta.contains(where: { $0 != 0 }) { try addBias(&node, delta, &working, &extra) }
        for k in working.keys.sorted() { store(&node, k, working[k]!) }
    }

    /// Writes a node's new constant input: in place when nothing else reads the initializer,
    /// otherwise under a fresh name.
    mutating func store(_ node: inout Node, _ k: Int, _ t: Tensor) {
        let old = node.input(k)
        if let old, uses[old] == 1, replaced[old] == nil, initializerNames.contains(old), !inputNames.contains(old) {
            var t = t
            t.name = old
            replaced[old] = t
            return
        }
        let base = old ?? "\(node.displayName)_\(k)"
        var t = t
        t.name = unique(old == nil ? base : "\(base)_trimmed")
        added.append(t)
        while node.inputs.count <= k { node.inputs.append("") }
        node.inputs[k] = t.name
        if let old { abandoned.insert(old) }
    }

    // MARK: Compensation

    /// The change each original output position of the consumer needs: Σ over removed input
    /// positions p of mean_p times the weights that read p.
    mutating func compensation(_ node: Node, _ how: Compensation, _ x: String) throws -> [Double]? {
        let keep = Set(kept(x))
        let gone = (0..<count(x)).filter { !keep.contains($0) }
        guard let m = means?.values[x] else {
            notes.append(TrimNote("\(node.displayName) (input '\(x)')", "no mean values, removed channels not compensated"))
            return nil
        }
        guard gone.allSatisfy({ m[$0] != nil }) else {
            notes.append(TrimNote("\(node.displayName) (input '\(x)')", "some removed channels have no mean value, not compensated"))
            return nil
        }
        let mean = gone.map { ($0, m[$0]!) }.filter { $0.1 != 0 }
        guard let wName = node.input(1), let w = constants[wName] else { return nil }
        let d = w.dims
        /// Σ over removed inputs p of mean_p times the sum of `count` weights from `start(p)`.
        func weighted(_ wv: (Int) -> Double, count: Int, _ start: (Int) -> Int) -> Double {
            mean.reduce(0) { s, pm in
                let first = start(pm.0)
                return s + pm.1 * (first..<(first + count)).reduce(0) { $0 + wv($1) }
            }
        }
        var delta: [Double] = try w.withElements { wv in
            switch how {
            case .conv:
                let (cout, cin, k) = (d[0], d[1], d.dropFirst(2).reduce(1, *))
                return (0..<cout).map { o in weighted(wv, count: k) { p in (o * cin + p) * k } }
            case .convTranspose:
                let (cout, k) = (d[1], d.dropFirst(2).reduce(1, *))
                return (0..<cout).map { o in weighted(wv, count: k) { p in (p * cout + o) * k } }
            case .gemm:
                let attributes = GemmAttributes(node)
                let transB = attributes.transB, alpha = Double(attributes.alpha)
                let n = transB ? d[0] : d[1], kDim = transB ? d[1] : d[0]
                return (0..<n).map { j in alpha * weighted(wv, count: 1) { p in transB ? j * kDim + p : p * n + j } }
            case .matMul:
                let n = d[1]
                return (0..<n).map { j in weighted(wv, count: 1) { p in p * n + j } }
            }
        }
        // A compensation can read a whole weight (each output row of a Gemm holds removed inputs).
        w.bytes?.releaseResidentPages()
        if let out = node.outputs.first, analysis.map(out) != nil, changed(out) {
            delta = kept(out).map { delta[$0] }
        }
        return delta
    }

    /// Adds `delta` (one value per kept output channel) to the node's bias, creating one if needed.
    mutating func addBias(_ node: inout Node, _ delta: [Double], _ working: inout [Int: Tensor], _ extra: inout [Node]) throws {
        let n = delta.count
        let template = constants[node.inputs[1]] ?? Tensor(floats: [], dims: [0])
        func fresh() throws -> Tensor { try template.replacingValues(delta, dims: [n]) }
        switch node.kind {
        case .conv?, .convTranspose?:
            if let b = working[2] ?? node.input(2).flatMap({ constants[$0] }) {
                let v = try b.doubles
                working[2] = try b.replacingValues(zip(v, delta).map(+), dims: b.dims)
            } else {
                working[2] = try fresh()
            }
        case .gemm?:
            let beta = Double(GemmAttributes(node).beta)
            if let c = working[2] ?? node.input(2).flatMap({ constants[$0] }) {
                let v = try c.doubles
                if v.count == 1 {
                    working[2] = try c.replacingValues(delta.map { beta * v[0] + $0 }, dims: [n])
                } else {
                    guard c.dims.last == n else { throw ModelError("C does not broadcast along the output features") }
                    working[2] = try c.replacingValues(v.indices.map { beta * v[$0] + delta[$0 % n] }, dims: c.dims)
                }
            } else {
                working[2] = try fresh()
            }
            if node[attribute: "beta"] != nil { node.setAttribute(Attribute("beta", .float(1))) }
        case .matMul?:
            // MatMul has no bias: an Add after it takes the compensation.
            guard let out = node.outputs.first else { return }
            let product = unique("\(out)_matmul")
            var bias = try fresh()
            bias.name = unique("\(node.displayName)_compensation")
            added.append(bias)
            node.outputs[0] = product
            extra.append(Node(name: unique("\(node.displayName)_compensation"), opType: "Add", inputs: [product, bias.name], outputs: [out]))
        default:
            throw ModelError("cannot compensate a \(node.opType)")
        }
    }

    // MARK: Clean-up

    /// Drops initializers and Constant/Identity nodes that only the rewired inputs read.
    func removeAbandoned(_ g: inout Graph) {
        var pending = abandoned
        while !pending.isEmpty {
            var read = Set(g.outputs.map(\.name))
            for n in g.nodes { read.formUnion(n.inputs); for a in n.attributes { for s in a.subgraphs { read.formUnion(ConstantValues.outerNames(s)) } } }
            let dead = pending.filter { !read.contains($0) }
            pending = []
            g.initializers.removeAll { dead.contains($0.name) }
            g.inputs.removeAll { dead.contains($0.name) }
            g.nodes.removeAll { n in
                guard n.kind == .constant || n.kind == .identity, n.outputs.allSatisfy({ dead.contains($0) }) else { return false }
                pending.formUnion(n.inputs.filter { !$0.isEmpty })
                return true
            }
        }
    }

    /// Re-infers every shape; value_info and graph outputs whose inferred type changed take the
    /// new type (or are dropped when it is unknown), so no stale shape survives.
    func refreshTypes(_ g: inout Graph, original: Graph, opset: Int64) throws {
        let before = try original.inferShapes(opset: opset)
        var bare = g
        bare.valueInfo = []
        bare.outputs = g.outputs.map { ValueInfo(name: $0.name) }
        let after = try bare.inferShapes(opset: opset)
        g.valueInfo = g.valueInfo.compactMap { v in
            guard before[v.name] != after[v.name] else { return v }
            guard let t = after[v.name], t.shape != nil else { return nil }
            var v = v
            v.type = .tensor(t)
            return v
        }
        for i in g.outputs.indices where before[g.outputs[i].name] != after[g.outputs[i].name] {
            if let t = after[g.outputs[i].name] { g.outputs[i].type = .tensor(t) } else { g.outputs[i].type = nil }
        }
        _ = try g.inferShapes(opset: opset)
    }
}

extension Node {
    /// Replaces the attribute of the same name, or appends it.
    mutating func setAttribute(_ a: Attribute) {
        if let i = attributes.firstIndex(where: { $0.name == a.name }) {
            var b = a
            b.preserved = attributes[i].preserved
            attributes[i] = b
        } else {
            attributes.append(a)
        }
    }
}
