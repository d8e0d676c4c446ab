import ModelIR

/// Channels that must be removed together: one or more producers (Conv, Gemm, …) whose outputs
/// are tied by element-wise ops, with every tensor that carries them.
public struct ChannelGroup: Sendable, Equatable {
    /// Index of the group in `ChannelAnalysis.groups`.
    public var id: Int
    /// Channels before trimming.
    public var channels: Int
    /// Display names of the nodes that create the channels (Conv, ConvTranspose, Gemm, MatMul).
    public var producers: [String]
    /// Why the group cannot be trimmed; empty when it can.
    public var barriers: [String]
    /// Tensors holding some of the group's channels, in node order.
    public var tensors: [String]

    public var isPrunable: Bool { barriers.isEmpty }
}

/// The coupled-channel analysis of a model: every group of channels that can be removed together,
/// and what removing them means for every node.
///
/// Each op family states in `ChannelRules/` how its input channels relate to its output channels.
/// Walking the nodes in order, producers open groups, pass-throughs carry them, element-wise ops
/// between activations merge them, Concat/Split offset them, Flatten expands them into features,
/// and everything else is a barrier with a reason.
public struct ChannelAnalysis: Sendable {
    public let model: Model
    public let groups: [ChannelGroup]
    /// The channel map of every tensor that carries group channels.
    let maps: [String: ChannelMap]
    /// Edits per node index.
    let edits: [Int: [ParameterEdit]]
    /// Types inferred for the original graph.
    let shapes: [String: TensorType]

    /// Analyses `model`'s main graph. With `allowOutputChange`, channels reaching a graph output may
    /// be removed (the output gets narrower); otherwise a graph output is a barrier.
    public init(model: Model, allowOutputChange: Bool = false) throws {
        try model.graph.verify()
        var analyzer = try ChannelAnalyzer(model: model)
        try analyzer.run(allowOutputChange: allowOutputChange)
        let (groups, maps) = analyzer.finish()
        self.model = model
        self.groups = groups
        self.maps = maps
        self.edits = analyzer.edits
        self.shapes = analyzer.shapes
    }

    /// The channel map of a tensor, if it carries group channels.
    func map(_ tensor: String) -> ChannelMap? { maps[tensor] }

    /// The groups a tensor's channels belong to, in order.
    public func groups(of tensor: String) -> [Int] {
        var seen: [Int] = []
        for s in maps[tensor]?.segments ?? [] where !seen.contains(s.group) { seen.append(s.group) }
        return seen
    }
}

/// Ordered lists of names (a group's producers or barrier reasons) that concatenate in constant
/// time: each list is a chain of entries in one shared pool, and `union` links one chain after
/// another instead of copying it. A chain may hold a name more than once; `list` keeps its first
/// occurrence. That is exactly the list the analysis used to build by appending only names not
/// yet present (removing later duplicates of `A ++ B` is `A` followed by `B`'s names not in
/// `A`), without a linear membership test per name or a copy per union: a group of thousands of
/// producers tied one by one, each time under a fresh root, took quadratic time that way.
struct NameChains {
    /// A list: its first and last entries, -1 when empty.
    struct Chain {
        var head = -1
        var tail = -1
    }

    private var names: [String] = []
    private var next: [Int] = []

    /// `chain` with `name` appended.
    mutating func appending(_ name: String, to chain: Chain) -> Chain {
        let e = names.count
        names.append(name)
        next.append(-1)
        guard chain.tail >= 0 else { return Chain(head: e, tail: e) }
        next[chain.tail] = e
        return Chain(head: chain.head, tail: e)
    }

    /// `a` followed by `b`. Each chain may be linked after another at most once (a group's state
    /// is dropped when it joins another root), so the links never form a cycle.
    mutating func concatenating(_ a: Chain, _ b: Chain) -> Chain {
        guard a.tail >= 0 else { return b }
        guard b.head >= 0 else { return a }
        next[a.tail] = b.head
        return Chain(head: a.head, tail: b.tail)
    }

    /// The names of `chain` in order, each once (its first occurrence).
    func list(_ chain: Chain) -> [String] {
        var out: [String] = []
        var seen: Set<String> = []
        var e = chain.head
        while e >= 0 {
            if seen.insert(names[e]).inserted { out.append(names[e]) }
            if e == chain.tail { break }
            e = next[e]
        }
        return out
    }
}

/// Mutable state of the analysis: a union-find over group ids, the maps found so far, the edits.
struct ChannelAnalyzer {
    struct GroupState {
        var size: Int
        /// Valid for roots only; read with `names.list`.
        var producers = NameChains.Chain()
        var barriers = NameChains.Chain()
    }

    let graph: Graph
    let opset: Int64
    let shapes: [String: TensorType]
    let constants: [String: Tensor]
    let producerIndex: [String: Int]
    var maps: [String: ChannelMap] = [:]
    var parent: [Int] = []
    var states: [GroupState] = []
    /// The producers and barrier reasons of every group.
    var names = NameChains()
    var edits: [Int: [ParameterEdit]] = [:]
    /// The node being analysed.
    var current = 0

    init(model: Model) throws {
        graph = model.graph
        opset = model.defaultOpset
        shapes = try model.graph.inferShapes(opset: model.defaultOpset)
        constants = ConstantValues.resolve(model.graph)
        producerIndex = model.graph.producers
    }

    mutating func run(allowOutputChange: Bool) throws {
        // Graph inputs have a fixed number of channels.
        for input in graph.runtimeInputs { fresh(input.name, producer: nil, barrier: "graph input '\(input.name)'") }
        for (i, node) in graph.nodes.enumerated() {
            current = i
            try apply(node)
        }
        barrierSharedWeights()
        if !allowOutputChange {
            for o in graph.outputs { barrier(o.name, "graph output '\(o.name)' (use allowOutputChange to let it narrow)") }
        }
        // Values read inside If/Loop/Scan bodies cannot be followed there.
        for node in graph.nodes {
            for a in node.attributes { for g in a.subgraphs { for name in ConstantValues.outerNames(g) {
                barrier(name, "read inside a subgraph of \(node.displayName) (\(node.opType))")
            } } }
        }
    }

    // MARK: Groups

    mutating func find(_ g: Int) -> Int {
        var r = g
        while parent[r] != r { r = parent[r] }
        var x = g
        while parent[x] != r { let next = parent[x]; parent[x] = r; x = next }
        return r
    }

    mutating func newGroup(size: Int, producer: String?, barrier: String?) -> Int {
        let id = states.count
        parent.append(id)
        var s = GroupState(size: size)
        if let producer { s.producers = names.appending(producer, to: s.producers) }
        if let barrier { s.barriers = names.appending(barrier, to: s.barriers) }
        states.append(s)
        return id
    }

    /// Ties two groups of equal size: channel c of one is channel c of the other. `a`'s root
    /// stays the root; its producers and barriers come first, then `b`'s that it lacks. Constant
    /// time besides `find`: the lists are linked, not copied (see `NameChains`).
    mutating func union(_ a: Int, _ b: Int) {
        let ra = find(a), rb = find(b)
        guard ra != rb else { return }
        parent[rb] = ra
        states[ra].producers = names.concatenating(states[ra].producers, states[rb].producers)
        states[ra].barriers = names.concatenating(states[ra].barriers, states[rb].barriers)
        states[rb].producers = NameChains.Chain()
        states[rb].barriers = NameChains.Chain()
    }

    /// Gives `tensor` a new group of its axis-1 size (or of `size`, laid out as `kind`); a barrier
    /// reason makes it fixed.
    mutating func fresh(_ tensor: String, size: Int? = nil, kind: ChannelMap.Kind = .channels, producer: String?, barrier: String?) {
        guard !tensor.isEmpty, let n = size ?? dim(tensor, 1), n > 0 else { return }
        let g = newGroup(size: n, producer: producer, barrier: barrier)
        maps[tensor] = ChannelMap(segments: [Segment(group: g, range: 0..<n)], kind: kind)
    }

    /// Makes every group `tensor` carries non-prunable.
    mutating func barrier(_ tensor: String, _ reason: String) {
        guard let m = maps[tensor] else { return }
        for s in m.segments {
            // A reason already listed is dropped when the list is read.
            let r = find(s.group)
            states[r].barriers = names.appending(reason, to: states[r].barriers)
        }
    }

    /// Weights read by several layers (a Keras layer called more than once) would have to lose the
    /// same channels in every call; rather than couple the calls' groups, each reader's channels are
    /// fixed. Only the learned parameters of `OpKind.hasWeights` nodes that the rules would edit count.
    mutating func barrierSharedWeights() {
        var readers: [String: [Int]] = [:]
        for (i, node) in graph.nodes.enumerated() where node.kind.map(OpKind.hasWeights.contains) == true && edits[i] != nil {
            for name in Set(node.inputs.dropFirst()) where !name.isEmpty {
                if let t = constants[name], t.elementCount > 1 { readers[name, default: []].append(i) }
            }
        }
        for (name, nodes) in readers.sorted(by: { $0.key < $1.key }) where nodes.count > 1 {
            let why = "weights '\(name)' shared by \(nodes.count) layers (\(nodes.map { graph.nodes[$0].displayName }.joined(separator: ", ")))"
            for i in nodes {
                for tensor in dataInputs(graph.nodes[i]) + graph.nodes[i].outputs { barrier(tensor, why) }
            }
        }
    }

    /// The node is a barrier: its data inputs' groups are fixed and its outputs get fixed groups.
    mutating func stop(_ node: Node, _ reason: String) {
        let why = "\(node.displayName) (\(node.opType)): \(reason)"
        for input in dataInputs(node) { barrier(input, why) }
        for output in node.outputs { fresh(output, producer: nil, barrier: why) }
    }

    mutating func edit(_ e: ParameterEdit, node: Int? = nil) { edits[node ?? current, default: []].append(e) }

    /// Outputs carry input 0's channels unchanged.
    mutating func pass(_ node: Node) {
        guard let x = node.input(0), let m = maps[x] else { return }
        for o in node.outputs.prefix(1) where !o.isEmpty { maps[o] = m }
    }

    // MARK: Facts about values

    func isConstant(_ name: String) -> Bool { constants[name] != nil }
    func dataInputs(_ node: Node) -> [String] { node.inputs.filter { !$0.isEmpty && !isConstant($0) } }
    func shape(_ name: String) -> Shape? { shapes[name]?.shape }
    func rank(_ name: String) -> Int? { shape(name)?.rank }
    func dim(_ name: String, _ axis: Int) -> Int? {
        guard let s = shape(name), axis < s.rank else { return nil }
        return s[axis].value
    }
    func ints(_ name: String?) -> [Int]? {
        guard let name, let t = constants[name], let v = try? t.int64s() else { return nil }
        return v.map { Int($0) }
    }
    func floats(_ name: String?) -> [Float]? {
        guard let name, let t = constants[name] else { return nil }
        return try? t.floats()
    }

    /// Axes normalised to 0..<rank, or nil when one is out of range.
    func normalized(_ axes: [Int], rank: Int) -> [Int]? {
        let out = axes.map { $0 < 0 ? $0 + rank : $0 }
        return out.allSatisfy { $0 >= 0 && $0 < rank } ? out : nil
    }

    // MARK: Result

    /// Groups numbered densely in order of creation, and the maps renumbered to match.
    mutating func finish() -> ([ChannelGroup], [String: ChannelMap]) {
        var number: [Int: Int] = [:]
        var groups: [ChannelGroup] = []
        for g in states.indices where find(g) == g {
            number[g] = groups.count
            let s = states[g]
            groups.append(ChannelGroup(id: groups.count, channels: s.size, producers: names.list(s.producers),
                                       barriers: names.list(s.barriers), tensors: []))
        }
        var out: [String: ChannelMap] = [:]
        for (name, m) in maps {
            out[name] = m.renamed { number[find($0)]! }
        }
        // Tensors in node order (graph inputs first).
        let order = graph.runtimeInputs.map(\.name) + graph.nodes.flatMap(\.outputs)
        for name in order { for g in Set(out[name]?.segments.map(\.group) ?? []).sorted() { groups[g].tensors.append(name) } }
        return (groups, out)
    }
}
