import ModelIR

/// Chains the interpreter may run as one step:
/// Conv → [BatchNormalization] → [Relu | Clip] → [Sigmoid | HardSigmoid | HardSwish | SiLU],
/// BatchNormalization → Relu | Clip, and Add → Relu,
/// where each intermediate output feeds only the next node, except SiLU's x·Sigmoid(x), whose x
/// feeds exactly its Sigmoid and its Mul. The fused step computes the
/// convolution with the batch norm and activation applied per image in its epilogue, so the
/// intermediates are never written; when an observer wants statistics of the chain's output, the
/// epilogue counts them too (see `ConvolutionOperators.fusableConv`). Whether a chain runs fused
/// is decided per run: when an observer wants an intermediate output, the nodes run one by one
/// as planned.
enum Fusion {
    /// A fusable chain found in the planned steps.
    struct Chain {
        /// Step indices: the Conv first, then the nodes folded into its epilogue.
        var steps: [Int]
        /// The fused operator; it takes the Conv's inputs and produces the last node's outputs.
        var run: OperatorFunction
    }

    /// The planned view of one step that fusion needs.
    struct StepInfo {
        var node: Node
        var opset: Int
        var inputs: [Int?]
        var outputs: [Int?]
    }

    /// Finds every chain. `readers[s]` counts the steps reading slot `s`; `keep` holds slots that
    /// must be materialised (graph outputs); `constant` gives plan-time values.
    static func chains(_ steps: [StepInfo], readers: [Int: Int], keep: Set<Int>,
                       constant: (Int) -> RuntimeTensor?) -> [Chain] {
        // The step that reads each slot, for slots read by exactly one step.
        var readerOf: [Int: Int] = [:]
        // Every step reading each slot (for SiLU's x, read by its Sigmoid and its Mul).
        var readersOf: [Int: [Int]] = [:]
        for (k, step) in steps.enumerated() {
            for case let s? in step.inputs {
                readerOf[s] = k
                if readersOf[s]?.last != k { readersOf[s, default: []].append(k) }
            }
        }

        /// The single step consuming step `k`'s only output as its first input, if any.
        func next(_ k: Int) -> Int? {
            let step = steps[k]
            guard step.outputs.count == 1, let out = step.outputs[0], !keep.contains(out), readers[out] == 1,
                  let j = readerOf[out], steps[j].inputs.first == out,
                  !steps[j].inputs.dropFirst().contains(where: { $0 == out }) else { return nil }
            return j
        }

        /// Step `k`'s output x feeding exactly Sigmoid(x) → s and Mul(x, s) (either order), with
        /// s read by the Mul alone: SiLU as exporters write it. Returns (Sigmoid step, Mul step).
        func silu(_ k: Int) -> (Int, Int)? {
            let step = steps[k]
            guard step.outputs.count == 1, let x = step.outputs[0], !keep.contains(x), readers[x] == 2,
                  let both = readersOf[x], both.count == 2 else { return nil }
            let (g, m) = steps[both[0]].node.kind == .sigmoid ? (both[0], both[1]) : (both[1], both[0])
            let gate = steps[g], mul = steps[m]
            guard gate.node.kind == .sigmoid, gate.node.isDefaultDomain, gate.inputs == [x], gate.outputs.count == 1,
                  let s = gate.outputs[0], !keep.contains(s), readers[s] == 1,
                  mul.node.kind == .mul, mul.node.isDefaultDomain, mul.outputs.count == 1, mul.inputs.count == 2,
                  Set(mul.inputs.compactMap { $0 }) == [x, s], g < m else { return nil }
            return (g, m)
        }

        var chains: [Chain] = []
        for (k, step) in steps.enumerated() where step.node.kind == .conv {
            var members = [k]
            var affine: (scale: [Float], shift: [Float])?
            var bounds: (low: Float, high: Float)?
            if let j = next(k), steps[j].node.kind?.convEpilogueRole == .affine,
               let a = batchNormAffine(steps[j], constant) {
                affine = a
                members.append(j)
            }
            if let j = next(members.last!), steps[j].node.kind?.convEpilogueRole == .clamp,
               let b = activationBounds(steps[j], constant) {
                bounds = b
                members.append(j)
            }
            var activation = EpilogueActivation.none
            if let (g, m) = silu(members.last!) {
                activation = .swish
                members += [g, m]
            } else if let j = next(members.last!), steps[j].node.kind?.convEpilogueRole == .activation,
                      let a = smoothActivation(steps[j]) {
                activation = a
                members.append(j)
            }
            guard members.count > 1, let conv = try? ConvolutionOperators.fusableConv(step.node) else { continue }
            let run: OperatorFunction = { inputs, ctx in
                try conv(inputs, ctx) { m, bias in
                    var epilogue = ConvEpilogue(bias: bias?.f, channels: m)
                    if let affine {
                        guard affine.scale.count == m else {
                            throw ModelError("batch normalization has \(affine.scale.count) channels, the convolution \(m)")
                        }
                        // act((conv + bias)·a + b) = act(conv·a + (bias·a + b))
                        let bias = epilogue.shift ?? [Float](repeating: 0, count: m)
                        epilogue.scale = affine.scale
                        epilogue.shift = (0..<m).map { bias[$0] * affine.scale[$0] + affine.shift[$0] }
                    }
                    if let bounds { (epilogue.low, epilogue.high) = bounds }
                    epilogue.activation = activation
                    return epilogue
                }
            }
            chains.append(Chain(steps: members, run: run))
        }
        // BatchNormalization → Relu/Clip on its own (DenseNet's pre-activation before each
        // convolution): one pass over the data, in either layout, instead of two.
        let taken = Set(chains.flatMap(\.steps))
        for (k, step) in steps.enumerated() where step.node.kind == .batchNormalization && !taken.contains(k) {
            guard let affine = batchNormAffine(step, constant), let j = next(k),
                  steps[j].node.kind?.convEpilogueRole == .clamp, let bounds = activationBounds(steps[j], constant) else { continue }
            let run: OperatorFunction = { inputs, ctx in
                let x = try ctx.asFloat(try inputs.required(0))
                guard x.rank >= 2, x.shape[1] == affine.scale.count else {
                    throw ModelError("X has shape \(x.shape), the batch normalization \(affine.scale.count) channels")
                }
                return [try NormalizationOperators.affine(x, scale: affine.scale, shift: affine.shift,
                                                          low: bounds.0, high: bounds.1, ctx)]
            }
            chains.append(Chain(steps: [k, j], run: run))
        }
        // Add → Relu (ResNet's residual joins): one pass when both operands are float32 of one
        // shape; otherwise, and when the Relu's statistics are wanted (APoZ counts them as the
        // Relu writes), the two kernels one after the other, as unfused.
        let relu = ElementwiseOperators.unary(Relu())
        for (k, step) in steps.enumerated() where step.node.kind == .add && step.node.isDefaultDomain && step.opset >= 7
            && step.inputs.count == 2 && !taken.contains(k) {
            guard let j = next(k), steps[j].node.kind == .relu, steps[j].node.isDefaultDomain else { continue }
            let run: OperatorFunction = { inputs, ctx in
                let a = try inputs.required(0), b = try inputs.required(1)
                if ctx.statistics == nil, a.elementType == .float32, b.elementType == .float32, a.shape == b.shape,
                   a.blocked == b.blocked {
                    let y = try ctx.floats(a.shape)
                    addRelu(a.f, b.f, y.f, count: a.count, threads: ctx.threads)
                    return [y]
                }
                let sum = try ElementwiseOperators.apply(AddOp.self, .add, a, b, ctx)
                let out = try relu([sum], ctx)
                ctx.recycle(sum)
                return out
            }
            chains.append(Chain(steps: [k, j], run: run))
        }
        return chains
    }

    /// Inference batch norm with constant parameters as y = x·a + b, as the unfused kernel computes it.
    static func batchNormAffine(_ step: StepInfo, _ constant: (Int) -> RuntimeTensor?) -> (scale: [Float], shift: [Float])? {
        let attributes = BatchNormalizationAttributes(step.node)
        guard step.node.isDefaultDomain, step.inputs.count == 5, step.outputs.count == 1, !attributes.trainingMode,
              step.opset >= 9 || attributes.spatial else { return nil }
        let params = step.inputs[1...].map { $0.flatMap(constant)?.floats }
        guard let scale = params[0], let bias = params[1], let mean = params[2], let variance = params[3],
              Set([scale.count, bias.count, mean.count, variance.count]).count == 1 else { return nil }
        let epsilon = attributes.epsilon
        var a = [Float](repeating: 0, count: scale.count), b = a
        for k in 0..<scale.count {
            a[k] = scale[k] / (variance[k] + epsilon).squareRoot()
            b[k] = bias[k] - mean[k] * a[k]
        }
        return (a, b)
    }

    /// Sigmoid, HardSigmoid or HardSwish as the activation an epilogue applies last.
    static func smoothActivation(_ step: StepInfo) -> EpilogueActivation? {
        guard step.node.isDefaultDomain, step.outputs.count == 1, step.inputs.count == 1 else { return nil }
        switch step.node.kind {
        case .sigmoid: return .sigmoid
        case .hardSwish: return .hardSwish
        case .hardSigmoid:
            let a = HardSigmoidAttributes(step.node)
            return .hardSigmoid(alpha: a.alpha, beta: a.beta)
        default: return nil
        }
    }

    /// Relu, or Clip with constant bounds, as the range its output is clamped to.
    static func activationBounds(_ step: StepInfo, _ constant: (Int) -> RuntimeTensor?) -> (Float, Float)? {
        let node = step.node
        guard let kind = node.kind, step.outputs.count == 1 else { return nil }
        switch kind {
        case .relu:
            return (0, .infinity)
        case .clip where step.opset < 11:
            let a = ClipAttributes(node)
            return (a.min, a.max)
        case .clip:
            var low = -Float.greatestFiniteMagnitude, high = Float.greatestFiniteMagnitude
            for i in 1..<min(3, step.inputs.count) {
                guard let s = step.inputs[i] else { continue }
                guard let t = constant(s), t.count == 1 else { return nil }
                if i == 1 { low = t.floats[0] } else { high = t.floats[0] }
            }
            return (low, high)
        default:
            // Not a clamp (`OpKind.ConvEpilogueRole.clamp`).
            return nil
        }
    }
}
