import ModelIR
import ModelRuntime

/// Runs training steps on a model: a forward pass in training mode that keeps every activation,
/// the loss, and a backward pass through each node's gradient rule.
///
///     let trainer = try Trainer(model: model, threads: 2, seed: 1)
///     let result = try trainer.gradients(input: batch, labels: labels)
///     optimizer.step(trainer, result.gradients, learningRate: 0.01)
///     let trained = trainer.exportModel()
public final class Trainer {
    var graph: TrainingGraph
    /// Current values of the trained tensors and BN running statistics, by slot.
    var state: [Int: RuntimeTensor]
    public var threads: Int
    public var loss: CrossEntropyLoss
    var random: SplitMix64
    /// Where activations come from; they go back after each step.
    let arena = Arena(populated: true)

    /// Names and shapes of the trained tensors, in the order `gradients` returns them.
    public var trainedTensors: [(name: String, shape: [Int])] {
        graph.trained.map { ($0.name, state[$0.slot]!.shape) }
    }
    /// Names of the BN running statistics updated by each step.
    public var runningStatistics: [String] { graph.running.map(\.name) }
    /// The name of the model input batches feed.
    public var inputName: String { graph.inputName }
    /// Number of trained elements.
    public var trainedParameterCount: Int { graph.trained.reduce(0) { $0 + state[$1.slot]!.count } }

    /// Prepares `model` for training; throws one error listing every node on the way from a
    /// trained tensor to the loss that has no gradient.
    public init(model: Model, threads: Int = 1, seed: UInt64 = 0, loss: CrossEntropyLoss = CrossEntropyLoss()) throws {
        RuntimeParallel.singleThreadedBLAS()
        graph = try TrainingGraph(model: model)
        self.threads = max(1, threads)
        self.loss = loss
        random = SplitMix64(seed: seed)
        state = [:]
        for (_, s) in graph.trained + graph.running { state[s] = graph.constants[s]! }
    }

    /// The outcome of one forward and backward pass.
    public struct StepResult {
        /// Mean loss over the batch, before any update.
        public let loss: Double
        /// Samples whose largest logit is their label.
        public let correct: Int
        /// dLoss/dθ for each trained tensor, in `trainedTensors` order.
        public let gradients: [RuntimeTensor]
    }

    /// One forward pass in training mode on `input` ([N, ...] as the model's input) and the
    /// backward pass from the loss against `labels`. BN running statistics are updated.
    public func gradients(input: RuntimeTensor, labels: [Int]) throws -> StepResult {
        // Anything run in between (another library, a validation pass) may have changed it.
        RuntimeParallel.singleThreadedBLAS()
        var values = [RuntimeTensor?](repeating: nil, count: graph.slotOf.count)
        for (s, t) in graph.constants { values[s] = t }
        for (s, t) in state { values[s] = t }
        values[graph.inputSlot] = input
        var saved = [AnyObject?](repeating: nil, count: graph.steps.count)
        var trainingState = TrainingState(random: random, threads: threads, arena: arena)
        for (k, step) in graph.steps.enumerated() {
            let inputs = step.inputs.map { $0.flatMap { values[$0] } }
            let outputs: [RuntimeTensor]
            do {
                if let forward = step.forward {
                    trainingState.updatedInputs = [:]
                    let (o, s) = try forward(inputs, &trainingState)
                    outputs = o
                    saved[k] = s
                    for (i, t) in trainingState.updatedInputs {
                        if let slot = step.inputs[i], state[slot] != nil { state[slot] = t }
                    }
                } else {
                    outputs = try step.kernel!(inputs, arena: arena, threads: threads)
                }
            } catch let e as ModelError {
                throw e.at("node '\(step.node.displayName)' (\(step.node.opType))")
            }
            for (i, o) in step.outputs.enumerated() { if let o, i < outputs.count { values[o] = outputs[i] } }
        }
        random = trainingState.random
        guard let logits = values[graph.logitsSlot] else { throw ModelError("the forward pass produced no logits") }
        let (lossValue, correct, dLogits) = try loss.evaluate(logits, labels: labels)

        var grads: [Int: RuntimeTensor] = [graph.logitsSlot: dLogits]
        for (k, step) in graph.steps.enumerated().reversed() where step.wanted.contains(true) {
            var outputGrads = step.outputs.map { $0.flatMap { grads.removeValue(forKey: $0) } }
            guard outputGrads.contains(where: { $0 != nil }) else { continue }
            guard case .differentiable(let rule) = step.rule else { continue }
            let inputs = step.inputs.map { $0.flatMap { values[$0] } }
            // An omitted optional output has no value: an empty tensor stands in (nothing reads it).
            let outputs = try step.outputs.map { try $0.flatMap { values[$0] } ?? RuntimeTensor.filled([0]) }
            let result: [RuntimeTensor?]
            do {
                result = try rule(GradientInputs(node: step.node, opset: graph.opset, inputs: inputs, outputs: outputs,
                                                 saved: saved[k], outputGrads: outputGrads, wanted: step.wanted,
                                                 threads: threads, kernel: step.kernel, cache: step.cache,
                                                 arena: arena))
            } catch let e as ModelError {
                throw e.at("gradient of node '\(step.node.displayName)' (\(step.node.opType))")
            }
            // The output gradients are spent: their buffers serve the next gradients (a buffer
            // the result still shares, as a view's, stays where it is).
            for o in outputGrads.indices { if let t = outputGrads[o] { outputGrads[o] = nil; arena.reclaim(t) } }
            for (i, g) in result.enumerated() where i < step.inputs.count && step.wanted[i] {
                guard let g, let slot = step.inputs[i], let x = inputs[i] else { continue }
                guard g.shape == x.shape else {
                    throw ModelError("gradient of node '\(step.node.displayName)' (\(step.node.opType)): input \(i) has shape \(x.shape) but its gradient \(g.shape)")
                }
                if let earlier = grads.removeValue(forKey: slot) {
                    grads[slot] = try Trainer.add(earlier, g, arena: arena)
                    arena.reclaim(earlier)
                } else {
                    grads[slot] = g
                }
            }
        }
        let result = try graph.trained.map { name, slot in
            try grads[slot] ?? RuntimeTensor.filled(state[slot]!.shape)
        }
        // Activations go back to the arena for the next step.
        for step in graph.steps {
            for case let o? in step.outputs where state[o] == nil && o != graph.inputSlot {
                if let t = values[o] { values[o] = nil; arena.reclaim(t) }
            }
        }
        return StepResult(loss: lossValue, correct: correct, gradients: result)
    }

    static func add(_ a: RuntimeTensor, _ b: RuntimeTensor, arena: Arena? = nil) throws -> RuntimeTensor {
        let out = try RuntimeTensor.uninitialized(a.shape, arena: arena)
        let ap = a.floatPointer, bp = b.floatPointer, op = out.floatPointer
        for i in 0..<a.count { op[i] = ap[i] + bp[i] }
        return out
    }

    /// The current value of trained tensor `index` (in `trainedTensors` order).
    public func value(of index: Int) -> RuntimeTensor { state[graph.trained[index].slot]! }

    /// Replaces trained tensor `index`'s value with a new tensor of the same shape.
    public func setValue(_ t: RuntimeTensor, of index: Int) {
        let slot = graph.trained[index].slot
        precondition(state[slot]!.shape == t.shape, "a trained tensor keeps its shape")
        state[slot] = t
    }

    /// The model with the current trained tensors and running statistics: initializers (or
    /// Constant values) change, nothing else does.
    public func exportModel() -> Model {
        var model = graph.model
        var byName: [String: RuntimeTensor] = [:]
        for (name, slot) in graph.trained + graph.running { byName[name] = state[slot]! }
        for k in model.graph.initializers.indices {
            guard let t = byName[model.graph.initializers[k].name] else { continue }
            let bytes = t.floats.withUnsafeBytes { TensorBytes(copying: $0) }
            model.graph.initializers[k].storage = .bytes(bytes)
        }
        for k in model.graph.nodes.indices where model.graph.nodes[k].kind == .constant {
            guard let out = model.graph.nodes[k].outputs.first, let t = byName[out],
                  let a = model.graph.nodes[k].attributes.firstIndex(where: { $0.name == "value" }),
                  case .tensor(var value) = model.graph.nodes[k].attributes[a].value else { continue }
            value.storage = .bytes(t.floats.withUnsafeBytes { TensorBytes(copying: $0) })
            model.graph.nodes[k].attributes[a].value = .tensor(value)
        }
        return model
    }
}
