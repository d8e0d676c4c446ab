/// A computation graph: nodes in topological order, its interface, and its constants.
public struct Graph: Sendable, Equatable {
    public var name: String
    public var nodes: [Node]
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Type annotations for intermediate values, in file order.
    public var valueInfo: [ValueInfo]
    public var initializers: [Tensor]
    public var sparseInitializers: [SparseTensor]
    public var preserved: Preserved?

    public init(name: String = "", nodes: [Node] = [], inputs: [ValueInfo] = [], outputs: [ValueInfo] = [],
                valueInfo: [ValueInfo] = [], initializers: [Tensor] = [], sparseInitializers: [SparseTensor] = [],
                preserved: Preserved? = nil) {
        self.name = name
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
        self.initializers = initializers
        self.sparseInitializers = sparseInitializers
        self.preserved = preserved
    }

    /// Initializers by name.
    public var initializerIndex: [String: Tensor] {
        Dictionary(initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Graph inputs that are fed at run time (not backed by an initializer).
    public var runtimeInputs: [ValueInfo] {
        let constant = Set(initializers.map(\.name))
        return inputs.filter { !constant.contains($0.name) }
    }

    /// For each value name, the index of the node producing it.
    public var producers: [String: Int] {
        var map: [String: Int] = [:]
        for (i, n) in nodes.enumerated() { for o in n.outputs where !o.isEmpty { map[o] = i } }
        return map
    }

    /// For each value name, the indices of the nodes reading it, in node order.
    public var consumers: [String: [Int]] {
        var map: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for v in Set(n.inputs) where !v.isEmpty { map[v, default: []].append(i) } }
        return map
    }

    /// Every known tensor type: inputs, outputs, value_info and initializers.
    public var knownTypes: [String: TensorType] {
        var types: [String: TensorType] = [:]
        for v in inputs + valueInfo + outputs { if let t = v.tensorType { types[v.name] = t } }
        for t in initializers { types[t.name] = t.type }
        return types
    }
}

/// An operator set a model imports.
public struct OpsetImport: Sendable, Equatable, Hashable {
    public var domain: String
    public var version: Int64

    public init(domain: String, version: Int64) {
        self.domain = domain
        self.version = version
    }
}

/// A whole model: metadata, operator sets and the main graph.
public struct Model: Sendable, Equatable {
    public var irVersion: Int64
    public var opsetImports: [OpsetImport]
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int64
    public var docString: String
    public var metadata: [(key: String, value: String)]
    public var graph: Graph
    /// Model-level fields the IR does not model: functions, training info, device configurations…
    public var preserved: Preserved?

    public init(irVersion: Int64 = 10, opsetImports: [OpsetImport] = [OpsetImport(domain: "", version: 17)],
                producerName: String = "", producerVersion: String = "", domain: String = "", modelVersion: Int64 = 0,
                docString: String = "", metadata: [(key: String, value: String)] = [], graph: Graph,
                preserved: Preserved? = nil) {
        self.irVersion = irVersion
        self.opsetImports = opsetImports
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.docString = docString
        self.metadata = metadata
        self.graph = graph
        self.preserved = preserved
    }

    public static func == (a: Model, b: Model) -> Bool {
        a.irVersion == b.irVersion && a.opsetImports == b.opsetImports && a.producerName == b.producerName
            && a.producerVersion == b.producerVersion && a.domain == b.domain && a.modelVersion == b.modelVersion
            && a.docString == b.docString && a.metadata.map(\.key) == b.metadata.map(\.key)
            && a.metadata.map(\.value) == b.metadata.map(\.value) && a.graph == b.graph && a.preserved == b.preserved
    }
}

extension Model {
    /// Lets the files the weights are borrowed from drop the resident pages of every initializer
    /// (`TensorBytes.releaseResidentPages`); the weights stay readable.
    public func releaseResidentPages() {
        for t in graph.initializers { t.bytes?.releaseResidentPages() }
    }
}
