import ModelIR

/// A tensor whose zeros are counted (an APoZ observation point), with the layer whose output
/// channels it holds.
public struct ObservationPoint: Sendable, Equatable {
    /// The observed tensor (a node output).
    public var tensor: String
    /// The node producing `tensor` (display name) and its op type.
    public var node: String
    public var op: String
    /// The channel-producing layers (Conv, Gemm, …) reached by walking back from `tensor` through
    /// layers that keep channels one-to-one (BatchNormalization, activations, pooling, …).
    /// Several when channels are tied by an element-wise op (a residual Add); the node where the
    /// walk stopped when it meets a layer that moves channels around (Concat, Reshape, …).
    public var producers: [Layer]
    /// What is counted per channel: zeros of `tensor` (ReLU, ReLU6: the paper's APoZ), or the
    /// off region, values ≤ 0 of `input` (SiLU, GELU, HardSwish, …).
    public var region: CountedRegion
    /// The activation's input (pre-activation) whose values ≤ 0 are counted, for the off region;
    /// nil when `tensor`'s own zeros are.
    public var input: String?
    /// Whether the channels are `tensor`'s last axis rather than axis 1: the features of a MatMul
    /// on a tensor of rank 3 or more ([N, H, W, C] in ConvNeXt's MLP, [N, T, C] in a transformer).
    public var channelsLast = false

    public struct Layer: Sendable, Equatable, Codable {
        public var name: String
        public var op: String
        public init(name: String, op: String) {
            self.name = name
            self.op = op
        }
    }

    public init(tensor: String, node: String, op: String, producers: [Layer], input: String? = nil,
                channelsLast: Bool = false) {
        self.channelsLast = channelsLast
        self.tensor = tensor
        self.node = node
        self.op = op
        self.producers = producers
        self.input = input
        region = input == nil ? .zeros : .nonPositive
    }
}

/// Chooses the tensors APoZ is observed on.
public enum ObservationPoints {
    /// How `names` changes the default points.
    public enum Selection: Sendable, Equatable {
        /// Every Relu output and every Clip with min 0 (ReLU6), counting zeros, and every
        /// off-region activation (`OffRegionActivation`), counting its input's values ≤ 0.
        case defaults
        /// Exactly the named tensors.
        case only([String])
        /// The defaults plus the named tensors.
        case adding([String])
    }

    /// The observation points of `model`'s main graph in node order.
    ///
    /// A Relu after a BatchNormalization is observed at the Relu's output, i.e. after the
    /// normalisation: that is where the zeros are. Keras layers with a fused relu activation are
    /// imported as a separate Relu node and so are observed the same way.
    /// - Throws: when a named tensor is not produced by any node, or when no point remains.
    public static func find(in model: Model, selection: Selection = .defaults) throws -> [ObservationPoint] {
        let graph = model.graph
        let opset = Int(model.defaultOpset)
        let constants = constantValues(graph)
        let producers = graph.producers
        let offRegion = offRegionActivations(graph, opset: opset, constants: constants)
        let inputs = Dictionary(offRegion.map { ($0.output, $0.input) }, uniquingKeysWith: { a, _ in a })
        var names: [String]
        switch selection {
        case .defaults:
            names = defaultTensors(graph, opset: opset, constants: constants, offRegion: offRegion)
        case .only(let given):
            names = given
        case .adding(let given):
            names = defaultTensors(graph, opset: opset, constants: constants, offRegion: offRegion)
            names += given.filter { !names.contains($0) }
        }
        var seen = Set<String>()
        names = names.filter { seen.insert($0).inserted }
        let unknown = names.filter { producers[$0] == nil }
        if !unknown.isEmpty {
            throw ModelError("--observe: no node produces \(unknown.map { "'\($0)'" }.joined(separator: ", ")) (graph inputs and initializers cannot be observed)")
        }
        if names.isEmpty {
            throw ModelError("the model has no observable activation (no Relu, no Clip with min 0, no SiLU, GELU, HardSwish, ELU, LeakyRelu, PRelu, Mish or Softplus); name tensors with --observe")
        }
        // Node order, so reports follow the network from input to output.
        let ordered = names.sorted { producers[$0]! < producers[$1]! }
        let byName = Dictionary(graph.nodes.enumerated().map { ($1.displayName, $0) }, uniquingKeysWith: { a, _ in a })
        var shapes: [String: TensorType]?
        return ordered.map { name in
            let node = graph.nodes[producers[name]!]
            let layers = channelProducers(of: name, graph, producers, constants)
            // Channels last when every producer is a MatMul over a tensor of rank 3 or more.
            let matMuls = layers.compactMap { $0.op == "MatMul" ? byName[$0.name].map { graph.nodes[$0] } : nil }
            var last = false
            if !layers.isEmpty, matMuls.count == layers.count {
                if shapes == nil { shapes = (try? graph.inferShapes(opset: Int64(opset))) ?? [:] }
                last = matMuls.allSatisfy { m in m.input(0).flatMap { shapes?[$0]?.shape?.rank }.map { $0 > 2 } ?? false }
            }
            return ObservationPoint(tensor: name, node: node.displayName, op: node.opType, producers: layers,
                                    input: inputs[name], channelsLast: last)
        }
    }

    /// Relu outputs and Clip outputs whose lower bound is 0, except those inside a decomposed
    /// off-region activation (the Clip of x·Clip(x + 3, 0, 6)/6), then the off-region activations.
    static func defaultTensors(_ graph: Graph, opset: Int, constants: [String: Tensor],
                               offRegion: [OffRegionActivation]) -> [String] {
        let inner = offRegion.reduce(into: Set<Int>()) { $0.formUnion($1.inner) }
        let zeros = graph.nodes.enumerated().compactMap { k, node -> String? in
            guard !inner.contains(k), let kind = node.kind, kind.isApozActivation, let out = node.outputs.first, !out.isEmpty
            else { return nil }
            // Clip is a ReLU only when it floors at 0.
            return kind != .clip || clipLowerBound(node, opset: opset, constants) == 0 ? out : nil
        }
        return zeros + offRegion.map(\.output).filter { !zeros.contains($0) }
    }

    /// Clip's min: an attribute before opset 11, a constant input from then on.
    static func clipLowerBound(_ node: Node, opset: Int, _ constants: [String: Tensor]) -> Float? {
        if opset < 11 { return ClipAttributes(node).min }
        guard let name = node.input(1), let t = constants[name], t.elementCount == 1 else { return nil }
        return try? t.floats().first
    }

    /// Values known before any input is fed: initializers, Constant outputs, and Identity copies
    /// of them (PyTorch's exporter shares equal initializers, e.g. zero biases, through Identity).
    static func constantValues(_ graph: Graph) -> [String: Tensor] {
        var values = graph.initializerIndex
        for node in graph.nodes {
            guard let out = node.outputs.first else { continue }
            if node.kind == .constant, let t = node[attribute: "value"]?.tensor { values[out] = t }
            if node.kind == .identity, let x = node.input(0), let t = values[x] { values[out] = t }
        }
        return values
    }

    /// Walks back from `tensor` to the layers that create its channels.
    static func channelProducers(of tensor: String, _ graph: Graph, _ producers: [String: Int],
                                 _ constants: [String: Tensor]) -> [ObservationPoint.Layer] {
        var found: [ObservationPoint.Layer] = []
        var visited = Set<String>()
        var pending = [tensor]
        while let name = pending.popLast() {
            guard visited.insert(name).inserted else { continue }
            guard let index = producers[name] else {
                let layer = ObservationPoint.Layer(name: name, op: "input")
                if !found.contains(layer) { found.append(layer) }
                continue
            }
            let node = graph.nodes[index]
            let dataInputs = node.inputs.filter { !$0.isEmpty && constants[$0] == nil }
            let kind = node.isDefaultDomain ? node.kind : nil
            let next: [String]
            switch kind {
            case .some(let k) where OpKind.passesChannelsThrough.contains(k):
                next = node.input(0).map { [$0] } ?? []
            case .some(let k) where OpKind.tiesInputChannels.contains(k):
                // A bias Add has one data input; a residual Add ties the channels of all of them.
                next = dataInputs
            default:
                next = []
            }
            if next.isEmpty {
                let layer = ObservationPoint.Layer(name: node.displayName, op: node.opType)
                if !found.contains(layer) { found.append(layer) }
            } else {
                pending.append(contentsOf: next.reversed())
            }
        }
        return found
    }
}
