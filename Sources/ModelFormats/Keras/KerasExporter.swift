import ModelIR

/// How an IR value relates to the Keras tensor standing for it.
enum KerasLayout: Equatable {
    /// The IR value is the Keras tensor (rank ≤ 2, or a channels-last IR value such as the reader's input).
    case same
    /// The IR value is the channels-last Keras tensor transposed to channels-first.
    case channelsFirst
    /// The IR value is the channels-first flatten of Keras tensor `source` (its IR dims `from`, c first),
    /// while the Keras tensor is Keras's own (spatial…, c) flatten of it.
    case flattened(source: String, sourceShape: [Int?], from: [Int])
}

/// The Keras tensor (a layer's output) standing for an IR value.
struct KerasValue {
    var layer: String
    /// Keras's shape, without the batch.
    var shape: [Int?]
    var layout: KerasLayout
    var rank: Int { shape.count + 1 }
    var channels: Int? { shape.last ?? nil }
}

/// Maps a channels-first IR graph onto Keras layers, node by node in graph order. Nodes whose
/// outputs only feed shape computations (PyTorch's Shape→Gather→…→Reshape chain) are skipped;
/// every node that has no Keras equivalent is collected and reported in one error.
final class KerasExporter {
    let graph: Graph
    let types: [String: TensorType]
    private(set) var constants: [String: Tensor]
    let producers: [String: Int]
    let consumers: [String: [Int]]
    /// The version of the default operator set, for attribute defaults that depend on it.
    let opset: Int64
    private(set) var values: [String: KerasValue] = [:]
    private(set) var layers: [KerasLayerSpec] = []
    private var layerNames = Set<String>()
    /// Nodes already handled as part of another node's pattern (fused activations, biases…).
    var absorbed = Set<Int>()
    private var failures: [String] = []

    init(_ model: Model) throws {
        graph = model.graph
        opset = model.defaultOpset
        types = (try? model.inferShapes()) ?? model.graph.knownTypes
        constants = graph.initializerIndex
        producers = graph.producers
        consumers = graph.consumers
    }

    /// Builds the layer plan, or throws one error naming every node that could not be mapped.
    func plan() throws -> KerasModelPlan {
        var inputs: [String] = []
        for input in graph.runtimeInputs {
            do { inputs.append(try addInput(input)) } catch let e as ModelError { failures.append("input '\(input.name)': \(e.message)") }
        }
        for node in graph.nodes where node.kind == .constant { _ = foldConstant(node) }
        let needed = neededNodes()
        for (index, node) in graph.nodes.enumerated() where needed.contains(index) && !absorbed.contains(index) {
            if foldConstant(node) { continue }
            let missing = dataInputs(node).filter { constants[$0] == nil && values[$0] == nil }
            guard missing.isEmpty else {
                // Normally the producer was reported already; say something if it was not.
                if failures.isEmpty { failures.append("\(node.displayName) (\(node.opType)): input '\(missing[0])' is not computed by a mapped layer") }
                continue
            }
            guard let kind = node.kind, let exporter = KerasLayers.exporters[kind] else {
                failures.append("\(node.displayName) (\(node.opType)): no Keras layer for this operator")
                continue
            }
            do { try exporter(KerasExportCall(node: node, index: index, exporter: self)) } catch let e as ModelError {
                failures.append("\(node.displayName) (\(node.opType)): \(e.message)")
            }
        }
        var outputs: [String] = []
        for output in graph.outputs {
            guard let v = values[output.name] else {
                if failures.isEmpty { failures.append("output '\(output.name)': not computed by any mapped layer") }
                continue
            }
            if case .flattened(_, _, let from) = v.layout, from.dropFirst().reduce(1, *) > 1 {
                failures.append("output '\(output.name)': a channels-first flatten, which Keras orders differently")
            }
            outputs.append(v.layer)
        }
        if !failures.isEmpty {
            throw ModelError("no Keras equivalent for \(failures.count) node(s): " + failures.joined(separator: "; "))
        }
        return KerasModelPlan(name: KerasExporter.sanitize(graph.name.isEmpty ? "model" : graph.name),
                              layers: layers, inputs: inputs, outputs: outputs).inKerasOrder()
    }

    /// A graph input becomes an InputLayer. A 4-D input read only by Transposes to channels-first is
    /// already channels-last (the reader's NHWC signature); other inputs of rank ≥ 3 are channels-first.
    private func addInput(_ input: ValueInfo) throws -> String {
        guard let shape = input.tensorType?.shape, shape.rank >= 2 else { throw ModelError("needs a known rank of at least 2") }
        let dims = shape.dims.dropFirst().map(\.value)
        var layout = KerasLayout.same
        var kerasShape = Array(dims)
        if shape.rank >= 3 {
            let toFirst = KerasGraphBuilder.toChannelsFirst(rank: shape.rank)
            let readers = consumers[input.name] ?? []
            let allTranspose = !readers.isEmpty && readers.allSatisfy {
                graph.nodes[$0].kind == .transpose && graph.nodes[$0].ints("perm") == toFirst
            }
            if !allTranspose {
                layout = .channelsFirst
                kerasShape = Array(dims.dropFirst()) + [dims[0]]
            }
        }
        let spec = KerasLayerSpec(className: "InputLayer", name: claim(input.name), config: [:], inputs: [], inputShapes: [],
                                  outputShape: kerasShape)
        layers.append(spec)
        values[input.name] = KerasValue(layer: spec.name, shape: kerasShape, layout: layout)
        return spec.name
    }

    /// Constant nodes and Identity/Cast of constants become constants; returns true when handled.
    private func foldConstant(_ node: Node) -> Bool {
        switch node.kind {
        case .constant:
            guard var t = node[attribute: "value"]?.tensor else { return false }
            t.name = node.outputs[0]
            constants[node.outputs[0]] = t
            return true
        case .identity, .dropout:
            if let c = node.input(0).flatMap({ constants[$0] }) {
                constants[node.outputs[0]] = c
                return true
            }
            return false
        default:
            return false
        }
    }

    /// Nodes reachable backwards from the graph outputs through data inputs (not through the shape
    /// inputs of Reshape, Resize, Pad, Clip…, which are constants or shape arithmetic).
    private func neededNodes() -> Set<Int> {
        var needed = Set<Int>()
        var stack = graph.outputs.map(\.name)
        while let value = stack.popLast() {
            guard let p = producers[value], needed.insert(p).inserted else { continue }
            stack += dataInputs(graph.nodes[p])
        }
        return needed
    }

    /// The inputs that carry data; the others (shapes, pads, scales, bounds) are read as constants
    /// or through shape inference.
    private func dataInputs(_ node: Node) -> [String] {
        let data: [String]
        switch node.kind {
        case .reshape, .resize, .upsample, .pad, .clip, .expand, .tile, .slice, .squeeze, .unsqueeze:
            data = Array(node.inputs.prefix(1))
        default:
            data = node.inputs
        }
        return data.filter { !$0.isEmpty }
    }

    // MARK: Helpers for the per-family exporters

    /// A unique valid Keras layer name from an IR name: characters other than letters, digits and
    /// `_` become `_` (Keras 3 refuses "/"), leading/trailing `_` are dropped.
    func claim(_ base: String) -> String {
        let clean = KerasExporter.sanitize(base)
        var name = clean, n = 0
        while layerNames.contains(name) {
            n += 1
            name = "\(clean)_\(n)"
        }
        layerNames.insert(name)
        return name
    }

    static func sanitize(_ raw: String) -> String {
        let mapped = String(raw.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
        var collapsed = ""
        for ch in mapped where !(ch == "_" && collapsed.last == "_") { collapsed.append(ch) }
        let trimmed = collapsed.trimmingCharacters(in: ["_"])
        return trimmed.isEmpty ? "layer" : trimmed
    }

    /// Appends a layer reading `inputs` and returns the Keras value of its output.
    @discardableResult
    func addLayer(_ className: String, name: String, inputs: [KerasValue], outputShape: [Int?], layout: KerasLayout,
                  config: [String: Any] = [:], keras3: [String: Any] = [:], weights: [KerasWeight] = []) -> KerasValue {
        let spec = KerasLayerSpec(className: className, name: claim(name), config: config, keras3Config: keras3,
                                  inputs: inputs.map(\.layer), inputShapes: inputs.map(\.shape), outputShape: outputShape,
                                  weights: weights)
        layers.append(spec)
        return KerasValue(layer: spec.name, shape: outputShape, layout: layout)
    }

    func bind(_ irValue: String, _ value: KerasValue) { values[irValue] = value }
    func value(_ irValue: String) -> KerasValue? { values[irValue] }
    func constant(_ irValue: String) -> Tensor? { constants[irValue] }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
