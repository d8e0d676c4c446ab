import ModelIR
import ModelRuntime

/// A model prepared for training: which tensors are trained, which are updated without being
/// trained (BN running statistics), and the nodes that run on every step.
///
/// - Trained: float32 initializers (or Constant-node values) that operators read as weights,
///   biases, BN scale/shift or PRelu slopes, directly or through Transpose/Reshape/Squeeze/
///   Unsqueeze/Flatten/Cast.
/// - An Identity that reads such an initializer (an exporter's de-duplication of one tensor read by
///   several layers) becomes an initializer of its own, so each layer trains its own copy, as in
///   the source model. Layers that read one initializer directly (Keras shared layers) stay tied.
/// - Every other node whose inputs are all constant (shape subgraphs) is evaluated once.
struct TrainingGraph {
    /// The model as it will be written: de-duplicated weights split into their own initializers.
    var model: Model
    let opset: Int
    /// Value name → slot.
    var slotOf: [String: Int] = [:]
    /// Constant slots and their values (non-trained initializers, folded nodes, trained tensors).
    var constants: [Int: RuntimeTensor] = [:]
    /// Trained tensors: value name and slot, in graph order.
    var trained: [(name: String, slot: Int)] = []
    /// BN running statistics: value name and slot.
    var running: [(name: String, slot: Int)] = []
    var steps: [TrainingStep] = []
    let inputName: String
    let inputSlot: Int
    /// The slot the loss reads: the graph output, or the logits before a final Softmax/LogSoftmax.
    let logitsSlot: Int

    struct TrainingStep {
        let node: Node
        let kind: OpKind
        let inputs: [Int?]
        let outputs: [Int?]
        let kernel: NodeKernel?
        let forward: TrainingForward?
        let rule: GradientRule
        let cache = GradientCache()
        /// Inputs that want a gradient (they depend on a trained tensor).
        var wanted: [Bool] = []
    }

    init(model original: Model) throws {
        var model = original
        opset = Int(model.defaultOpset)
        guard model.graph.runtimeInputs.count == 1, let input = model.graph.runtimeInputs.first else {
            throw ModelError("training needs a model with one input, this one has \(model.graph.runtimeInputs.count)")
        }
        guard model.graph.outputs.count >= 1 else { throw ModelError("the model has no output") }
        inputName = input.name
        let conventions = TrainingConventions(for: model)
        TrainingGraph.splitDeduplicatedWeights(&model.graph)
        self.model = model
        let graph = model.graph

        var slotOf: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let s = slotOf[name] { return s }
            slotOf[name] = slotOf.count
            return slotOf.count - 1
        }
        inputSlot = slot(inputName)
        var folded: [Int: RuntimeTensor] = [:]
        let producers = graph.producers
        let initializers = graph.initializerIndex
        // Values read as weights, traced back through reshaping nodes to their source.
        var trainedNames = Set<String>(), runningNames = Set<String>()
        func source(_ name: String) -> String? {
            if let t = initializers[name] { return t.dataType == .float ? name : nil }
            guard let p = producers[name] else { return nil }
            let node = graph.nodes[p]
            switch node.kind {
            case .constant:
                return node[attribute: "value"]?.tensor?.dataType == .float ? name : nil
            case .transpose, .reshape, .squeeze, .unsqueeze, .flatten, .cast, .identity:
                return node.inputs.first.flatMap(source)
            default:
                return nil
            }
        }
        for node in graph.nodes {
            let weightInputs: [Int]
            switch node.kind {
            case .conv, .convTranspose: weightInputs = [1, 2]
            case .gemm, .matMul: weightInputs = [0, 1, 2]
            case .batchNormalization:
                weightInputs = [1, 2]
                for i in [3, 4] where i < node.inputs.count { if let s = source(node.inputs[i]) { runningNames.insert(s) } }
            case .pRelu: weightInputs = [1]
            default: weightInputs = []
            }
            for i in weightInputs where i < node.inputs.count && !node.inputs[i].isEmpty {
                if let s = source(node.inputs[i]) { trainedNames.insert(s) }
            }
        }
        runningNames.subtract(trainedNames)

        for t in graph.initializers where !t.name.isEmpty {
            do { folded[slot(t.name)] = try RuntimeTensor(t) } catch let e as ModelError { throw e.at("initializer '\(t.name)'") }
        }
        for t in graph.initializers where trainedNames.contains(t.name) { trained.append((t.name, slot(t.name))) }
        for t in graph.initializers where runningNames.contains(t.name) { running.append((t.name, slot(t.name))) }

        var needsGrad = Set(trained.map(\.slot))
        var pending: [TrainingStep] = []
        for node in graph.nodes {
            let place = "node '\(node.displayName)' (\(node.opType))"
            guard node.isDefaultDomain, let kind = node.kind else {
                throw ModelError("operator \(node.domain.isEmpty ? "" : node.domain + ".")\(node.opType) is not known").at(place)
            }
            let ins = node.inputs.map { $0.isEmpty ? nil : slot($0) }
            let outs = node.outputs.map { $0.isEmpty ? nil : slot($0) }
            if kind == .constant, let out = node.outputs.first, trainedNames.contains(out) || runningNames.contains(out) {
                let value = node[attribute: "value"]!.tensor!
                folded[slot(out)] = try RuntimeTensor(value)
                if trainedNames.contains(out) { trained.append((out, slot(out))) } else { running.append((out, slot(out))) }
                continue
            }
            let forward = GradientRegistry.trainingForward(kind, node: node, opset: opset, conventions: conventions)
            let kernel: NodeKernel?
            do { kernel = forward == nil ? try NodeKernel(node: node, opset: opset) : nil } catch let e as ModelError {
                throw e.at(place)
            }
            let live = ins.contains { $0 != nil && (needsGrad.contains($0!) || folded[$0!] == nil) }
            if !live, forward == nil, let kernel {
                // Every input is constant and not trained: evaluate once.
                let results: [RuntimeTensor]
                do { results = try kernel(ins.map { $0.flatMap { folded[$0] } }, arena: Arena(), threads: 1) } catch let e as ModelError {
                    throw e.at(place)
                }
                for (k, o) in outs.enumerated() { if let o, k < results.count { folded[o] = results[k] } }
                continue
            }
            var step = TrainingStep(node: node, kind: kind, inputs: ins, outputs: outs, kernel: kernel, forward: forward,
                                    rule: GradientRegistry.rule(kind, node: node, opset: opset))
            step.wanted = ins.map { $0.map { needsGrad.contains($0) } ?? false }
            // Unsupported nodes pass the flag on too, so that every one of them is listed.
            if step.wanted.contains(true) {
                switch step.rule {
                case .differentiable, .unsupported: for case let o? in outs { needsGrad.insert(o) }
                case .constant: break
                }
            }
            pending.append(step)
        }

        // The loss reads the logits: before a final Softmax/LogSoftmax when the graph ends in one.
        let outputName = graph.outputs[0].name
        var logits = slot(outputName)
        if let p = pending.last(where: { $0.outputs.contains(logits) }), p.kind == .softmax || p.kind == .logSoftmax,
           let x = p.inputs.first ?? nil {
            logits = x
        }
        logitsSlot = logits
        // Only steps the logits depend on run.
        var reaches: Set<Int> = [logits]
        var kept: [TrainingStep] = []
        for step in pending.reversed() where step.outputs.contains(where: { $0 != nil && reaches.contains($0!) }) {
            for case let i? in step.inputs { reaches.insert(i) }
            kept.append(step)
        }
        steps = kept.reversed()
        self.slotOf = slotOf
        constants = folded
        let missing = steps.filter { step in
            guard step.wanted.contains(true) else { return false }
            if case .unsupported = step.rule { return true }
            return false
        }
        if !missing.isEmpty {
            let list = missing.map { "\($0.node.displayName) (\($0.node.opType))" }
            throw ModelError("\(missing.count) node(s) between the trained weights and the loss have no gradient: "
                + list.joined(separator: ", "))
        }
        guard needsGrad.contains(logits) else {
            throw ModelError("no trainable tensor (weights, biases, BN scale/shift, PRelu slopes) reaches the output '\(outputName)'")
        }
    }

    /// Replaces each Identity that reads a float initializer by an initializer of its own (a copy).
    static func splitDeduplicatedWeights(_ graph: inout Graph) {
        let initializers = graph.initializerIndex
        var copies: [Tensor] = []
        graph.nodes.removeAll { node in
            guard node.kind == .identity, node.inputs.count == 1, node.outputs.count == 1,
                  var t = initializers[node.inputs[0]], t.dataType == .float,
                  !graph.outputs.contains(where: { $0.name == node.outputs[0] }) else { return false }
            t.name = node.outputs[0]
            t.preserved = nil
            copies.append(t)
            return true
        }
        graph.initializers += copies
    }
}
