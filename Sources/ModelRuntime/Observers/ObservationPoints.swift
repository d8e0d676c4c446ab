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

    public struct Layer: Sendable, Equatable, Codable {
        public var name: String
        public var op: String
        public init(name: String, op: String) {
            self.name = name
            self.op = op
        }
    }

    public init(tensor: String, node: String, op: String, producers: [Layer]) {
        self.tensor = tensor
        self.node = node
        self.op = op
        self.producers = producers
    }
}

/// Chooses the tensors APoZ is observed on.
public enum ObservationPoints {
    /// How `names` changes the default points.
    public enum Selection: Sendable, Equatable {
        /// Every Relu output and every Clip with min 0 (ReLU6).
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
        var names: [String]
        switch selection {
        case .defaults:
            names = defaultTensors(graph, opset: opset, constants: constants)
        case .only(let given):
            names = given
        case .adding(let given):
            names = defaultTensors(graph, opset: opset, constants: constants)
            names += given.filter { !names.contains($0) }
        }
        var seen = Set<String>()
        names = names.filter { seen.insert($0).inserted }
        let unknown = names.filter { producers[$0] == nil }
        if !unknown.isEmpty {
            throw ModelError("--observe: no node produces \(unknown.map { "'\($0)'" }.joined(separator: ", ")) (graph inputs and initializers cannot be observed)")
        }
        if names.isEmpty {
            throw ModelError("the model has no observable activation (no Relu, no Clip with min 0); name tensors with --observe")
        }
        // Node order, so reports follow the network from input to output.
        let ordered = names.sorted { producers[$0]! < producers[$1]! }
        return ordered.map { name in
            let node = graph.nodes[producers[name]!]
            return ObservationPoint(tensor: name, node: node.displayName, op: node.opType,
                                    producers: channelProducers(of: name, graph, producers, constants))
        }
    }

    /// Relu outputs and Clip outputs whose lower bound is 0.
    static func defaultTensors(_ graph: Graph, opset: Int, constants: [String: Tensor]) -> [String] {
        graph.nodes.compactMap { node -> String? in
            guard let kind = node.kind, kind.isApozActivation, let out = node.outputs.first, !out.isEmpty else { return nil }
            // Clip is a ReLU only when it floors at 0.
            return kind != .clip || clipLowerBound(node, opset: opset, constants) == 0 ? out : nil
        }
    }

    /// Clip's min: an attribute before opset 11, a constant input from then on.
    static func clipLowerBound(_ node: Node, opset: Int, _ constants: [String: Tensor]) -> Float? {
        if opset < 11 { return ClipAttributes(node).min }
        guard let name = node.input(1), let t = constants[name], t.elementCount == 1 else { return nil }
        return try? t.floats().first
    }

    /// Values known before any input is fed: initializers and Constant outputs.
    static func constantValues(_ graph: Graph) -> [String: Tensor] {
        var values = graph.initializerIndex
        for node in graph.nodes where node.kind == .constant {
            if let out = node.outputs.first, let t = node[attribute: "value"]?.tensor { values[out] = t }
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
