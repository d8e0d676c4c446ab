import ModelIR
import ModelRuntime

/// What `modeltool info` shows about a model, as data: producer, operator sets, inputs and
/// outputs with their inferred types, one row per layer with parameters and MACs, the totals, and
/// the nodes the runtime cannot execute. The CLI prints it as text or encodes it as JSON.
public struct ModelReport: Encodable, Sendable {
    public struct Value: Encodable, Sendable {
        public var name: String
        /// The inferred type, "?" when unknown.
        public var type: String
    }
    public struct Layer: Encodable, Sendable {
        public var name: String
        public var op: String
        /// Types of the non-constant inputs and of the outputs.
        public var inputs: [String]
        public var outputs: [String]
        public var params: Int
        /// nil when shapes are unknown.
        public var macs: Int?
    }
    public struct Unsupported: Encodable, Sendable {
        public var node: String
        public var op: String
        /// As `OperatorSetDomain.displayName` shows it.
        public var domain: String
        /// The imported version of the node's operator set; nil when the model imports none.
        public var opset: Int?
    }

    public var file: String
    public var producer: String
    public var producerVersion: String
    public var irVersion: Int64
    /// Imported operator set versions, by `OperatorSetDomain.displayName`.
    public var opsets: [String: Int]
    public var inputs: [Value]
    public var outputs: [Value]
    public var layers: [Layer]
    public var totalParams: Int
    public var totalMACs: Int
    /// The batch size symbolic dimensions are set to for the MACs.
    public var macsBatch: Int
    /// Input shapes given by the caller (`--input-shape`), bound before inference.
    public var inputShapes: [String: [Int]]
    public var layersWithUnknownMACs: [String]
    public var unsupported: [Unsupported]

    /// Infers the shapes of `model` and profiles it for `batch` samples, with the inputs named in
    /// `inputShapes` bound to those shapes first (shown shapes are concrete then too).
    public init(model: Model, file: String, batch: Int, inputShapes: [String: [Int]] = [:]) throws {
        self.file = file
        producer = model.producerName
        producerVersion = model.producerVersion
        irVersion = model.irVersion
        let versions = model.opsetVersions
        opsets = Dictionary(versions.map { (OperatorSetDomain.displayName($0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
        let types = try model.binding(inputShapes: inputShapes).graph.inferShapes(opset: model.defaultOpset)
        func describe(_ name: String) -> String { types[name]?.description ?? "?" }
        inputs = model.graph.runtimeInputs.map { Value(name: $0.name, type: describe($0.name)) }
        outputs = model.graph.outputs.map { Value(name: $0.name, type: describe($0.name)) }
        let profile = try model.profile(batch: batch, inputShapes: inputShapes)
        let constants = Set(model.graph.initializers.map(\.name))
        layers = zip(model.graph.nodes, profile).map { node, p in
            Layer(name: node.displayName, op: node.opType,
                  inputs: node.inputs.filter { !$0.isEmpty && !constants.contains($0) }.map(describe),
                  outputs: node.outputs.filter { !$0.isEmpty }.map(describe), params: p.params, macs: p.macs)
        }
        let totals = ProfileTotals(profile)
        totalParams = totals.params
        totalMACs = totals.macs
        macsBatch = batch
        self.inputShapes = inputShapes
        layersWithUnknownMACs = totals.layersWithUnknownMACs
        unsupported = Interpreter.unsupportedNodes(in: model).map {
            Unsupported(node: $0.displayName, op: $0.opType, domain: OperatorSetDomain.displayName($0.normalizedDomain),
                        opset: versions[$0.normalizedDomain])
        }
    }
}
