import ModelIR

/// How an IR value relates to the Keras tensor standing for it.
enum KerasLayout: Equatable {
    /// The IR value is the Keras tensor (rank ≤ 2, or a channels-last IR value such as the reader's input).
    case same
    /// The IR value is the channels-last Keras tensor transposed to channels-first.
    case channelsFirst
    /// The IR value is the channels-first flatten of Keras tensor `source` (its IR dims `from`, c first),
    /// while the Keras tensor is Keras's own (spatial…, c) flatten of it.
    case flattened(source: KerasTensorRef, sourceShape: [Int?], from: [Int])
}

/// The Keras tensor (a layer's output) standing for an IR value.
struct KerasValue {
    var layer: KerasTensorRef
    /// Keras's shape, without the batch.
    var shape: [Int?]
    var layout: KerasLayout
    var rank: Int { shape.count + 1 }
    var channels: Int? { shape.last ?? nil }
}

/// Maps a channels-first IR graph onto Keras layers, node by node in graph order. Nodes whose
/// outputs only feed shape computations (PyTorch's Shape→Gather→…→Reshape chain) are skipped;
/// every node that has no Keras equivalent is collected and reported in one error. Nodes that read
/// the very same weight initializers (a Keras shared layer as the reader maps it, or weights tied
/// in ONNX) become calls of one layer, so the weights stay one set.
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
    /// The constants (by IR name) the node being exported has read so far: what identifies its weights.
    private var readConstants = Set<String>()
    /// Layers with weights by class and the constants their first node read, to find shared ones.
    private var weightedLayers: [String: Int] = [:]
    /// The IR node names behind each layer's calls (for the name a shared layer keeps).
    private var callNames: [[String]] = []

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
        var inputs: [KerasTensorRef] = []
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
            readConstants = []
            do { try exporter(KerasExportCall(node: node, index: index, exporter: self)) } catch let e as ModelError {
                failures.append("\(node.displayName) (\(node.opType)): \(e.message)")
            }
        }
        var outputs: [KerasTensorRef] = []
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
        let plan = KerasModelPlan(name: KerasExporter.sanitize(graph.name.isEmpty ? "model" : graph.name),
                                  layers: layers, inputs: inputs, outputs: outputs)
        return sharedLayersNamed(plan).inKerasOrder()
    }

    /// A graph input becomes an InputLayer. A 4-D input read only by Transposes to channels-first is
    /// already channels-last (the reader's NHWC signature); other inputs of rank ≥ 3 are channels-first.
    private func addInput(_ input: ValueInfo) throws -> KerasTensorRef {
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
        let spec = KerasLayerSpec(className: "InputLayer", name: claim(input.name), config: [:],
                                  calls: [KerasLayerCall(inputs: [], inputShapes: [], outputShape: kerasShape)])
        layers.append(spec)
        callNames.append([input.name])
        let ref = KerasTensorRef(layer: spec.name)
        values[input.name] = KerasValue(layer: ref, shape: kerasShape, layout: layout)
        return ref
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

    /// Appends a layer reading `inputs` and returns the Keras value of its output. A layer with
    /// weights whose node read the same constants as an earlier layer of its class (same config,
    /// same weights) is instead a further call of that layer.
    @discardableResult
    func addLayer(_ className: String, name: String, inputs: [KerasValue], outputShape: [Int?], layout: KerasLayout,
                  config: [String: Any] = [:], keras3: [String: Any] = [:], weights: [KerasWeight] = []) -> KerasValue {
        let call = KerasLayerCall(inputs: inputs.map(\.layer), inputShapes: inputs.map(\.shape), outputShape: outputShape)
        // Constants are told apart by name: equal values (fresh BatchNorms) are not one layer.
        let key = weights.isEmpty ? nil : ([className] + readConstants.sorted()).joined(separator: "\u{0}")
        if let key, let i = weightedLayers[key], Self.sameLayer(layers[i], config: config, keras3: keras3, weights: weights) {
            layers[i].calls.append(call)
            callNames[i].append(name)
            return KerasValue(layer: KerasTensorRef(layer: layers[i].name, node: layers[i].calls.count - 1), shape: outputShape,
                              layout: layout)
        }
        let spec = KerasLayerSpec(className: className, name: claim(name), config: config, keras3Config: keras3, calls: [call],
                                  weights: weights)
        if let key, weightedLayers[key] == nil { weightedLayers[key] = layers.count }
        layers.append(spec)
        callNames.append([name])
        return KerasValue(layer: KerasTensorRef(layer: spec.name), shape: outputShape, layout: layout)
    }

    /// Whether a layer would be written exactly as `layer` (its config and weights), so a call of it can stand for it.
    private static func sameLayer(_ layer: KerasLayerSpec, config: [String: Any], keras3: [String: Any], weights: [KerasWeight]) -> Bool {
        func text(_ object: [String: Any]) -> String? { try? KerasModelPlan.text(object) }
        guard text(layer.config) == text(config), text(layer.keras3Config) == text(keras3), layer.weights.count == weights.count else {
            return false
        }
        return zip(layer.weights, weights).allSatisfy { a, b in
            a.name == b.name && a.dims == b.dims && a.values.elementsEqual(b.values) { $0.bitPattern == $1.bitPattern }
        }
    }

    /// A shared layer keeps the name its calls' nodes share: the reader names calls `conv`,
    /// `conv_1`, `conv_2`…, and the first node met in graph order need not be the first call.
    private func sharedLayersNamed(_ plan: KerasModelPlan) -> KerasModelPlan {
        var renamed: [String: String] = [:]
        var plan = plan
        for (i, names) in callNames.enumerated() where names.count > 1 {
            let clean = names.map(KerasExporter.sanitize)
            let base = clean.min { $0.count < $1.count }!
            let isBase = clean.allSatisfy { n in
                n == base || (n.hasPrefix(base + "_") && !n.dropFirst(base.count + 1).isEmpty && n.dropFirst(base.count + 1).allSatisfy(\.isNumber))
            }
            guard isBase, base != plan.layers[i].name, !layerNames.contains(base) else { continue }
            layerNames.insert(base)
            renamed[plan.layers[i].name] = base
            plan.layers[i].name = base
        }
        guard !renamed.isEmpty else { return plan }
        func rename(_ ref: KerasTensorRef) -> KerasTensorRef { KerasTensorRef(layer: renamed[ref.layer] ?? ref.layer, node: ref.node) }
        for i in plan.layers.indices {
            for c in plan.layers[i].calls.indices { plan.layers[i].calls[c].inputs = plan.layers[i].calls[c].inputs.map(rename) }
        }
        plan.inputs = plan.inputs.map(rename)
        plan.outputs = plan.outputs.map(rename)
        return plan
    }

    func bind(_ irValue: String, _ value: KerasValue) { values[irValue] = value }
    func value(_ irValue: String) -> KerasValue? { values[irValue] }

    /// A constant (initializer or folded Constant) by IR name; the read is remembered as what
    /// identifies the current node's weights.
    func constant(_ irValue: String) -> Tensor? {
        let c = constants[irValue]
        if c != nil { readConstants.insert(irValue) }
        return c
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
