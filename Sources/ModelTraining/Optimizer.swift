import Foundation
import ModelRuntime

/// The optimizers, with PyTorch's meanings and defaults: SGD (momentum, dampening 0, Nesterov,
/// weight decay added to the gradient), Adam (L2 weight decay added to the gradient) and AdamW
/// (decoupled weight decay), eps 1e-8, betas 0.9/0.999.
public enum OptimizerKind: String, CaseIterable, Sendable {
    case sgd, adam, adamw
}

public struct OptimizerSettings: Sendable {
    public var kind: OptimizerKind
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// Clip the gradients' global L2 norm to this (nil: no clipping), as clip_grad_norm_.
    public var clipNorm: Float?

    public init(kind: OptimizerKind = .sgd, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float? = nil,
                beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, clipNorm: Float? = nil) {
        self.kind = kind
        self.momentum = momentum
        self.nesterov = nesterov
        // PyTorch: AdamW decays by 0.01 unless told otherwise; SGD and Adam do not decay.
        self.weightDecay = weightDecay ?? (kind == .adamw ? 0.01 : 0)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.clipNorm = clipNorm
    }
}

/// Optimizer state (momentum buffers, moments) for the trained tensors of one `Trainer`.
public final class Optimizer {
    public let settings: OptimizerSettings
    private var first: [[Float]] = []
    private var second: [[Float]] = []
    /// Steps taken so far.
    public private(set) var stepCount = 0

    public init(_ settings: OptimizerSettings) { self.settings = settings }

    /// Applies one update with `gradients` (in the trainer's `trainedTensors` order) at
    /// `learningRate`. Returns the gradients' global norm before clipping.
    @discardableResult
    public func step(_ trainer: Trainer, _ gradients: [RuntimeTensor], learningRate lr: Float) throws -> Double {
        let s = settings
        var norm2 = 0.0
        for g in gradients {
            let p = g.floatPointer
            var acc: Float = 0
            for i in 0..<g.count { acc += p[i] * p[i] }
            norm2 += Double(acc)
        }
        let norm = norm2.squareRoot()
        var clip: Float = 1
        if let limit = s.clipNorm, norm > Double(limit) { clip = Float(Double(limit) / (norm + 1e-6)) }
        if first.isEmpty {
            first = gradients.map { [Float](repeating: 0, count: $0.count) }
            if s.kind != .sgd { second = first }
        }
        stepCount += 1
        let t = Float(stepCount)
        let correction1 = 1 - Foundation.pow(s.beta1, t), correction2 = 1 - Foundation.pow(s.beta2, t)
        for (index, g) in gradients.enumerated() {
            let old = trainer.value(of: index)
            let new = try RuntimeTensor.uninitialized(old.shape)
            let w = old.floatPointer, out = new.floatPointer, gp = g.floatPointer
            let n = old.count
            first[index].withUnsafeMutableBufferPointer { m in
                switch s.kind {
                case .sgd:
                    let firstStep = stepCount == 1
                    for i in 0..<n {
                        var d = gp[i] * clip + s.weightDecay * w[i]
                        if s.momentum != 0 {
                            m[i] = firstStep ? d : s.momentum * m[i] + d
                            d = s.nesterov ? d + s.momentum * m[i] : m[i]
                        }
                        out[i] = w[i] - lr * d
                    }
                case .adam, .adamw:
                    second[index].withUnsafeMutableBufferPointer { v in
                        let decoupled = s.kind == .adamw
                        let stepSize = lr / correction1, root2 = correction2.squareRoot()
                        for i in 0..<n {
                            var d = gp[i] * clip
                            var weight = w[i]
                            if decoupled { weight *= 1 - lr * s.weightDecay } else { d += s.weightDecay * w[i] }
                            m[i] = s.beta1 * m[i] + (1 - s.beta1) * d
                            v[i] = s.beta2 * v[i] + (1 - s.beta2) * d * d
                            out[i] = weight - stepSize * m[i] / (v[i].squareRoot() / root2 + s.epsilon)
                        }
                    }
                }
            }
            // A new tensor, not an update in place: kernels keep packed copies of the weights
            // they last saw, keyed by the buffer.
            trainer.setValue(new, of: index)
        }
        return norm
    }
}

/// How the learning rate changes over a run: constant, step (×gamma every `stepEpochs`
/// epochs) or cosine (to 0 over the run), after a linear warm-up of `warmupSteps` steps from 0.
public enum ScheduleKind: String, CaseIterable, Sendable {
    case constant, step, cosine
}

public struct LearningRateSchedule: Sendable {
    public var kind: ScheduleKind
    public var baseRate: Float
    public var warmupSteps: Int
    public var stepEpochs: Int
    public var gamma: Float

    public init(kind: ScheduleKind = .constant, baseRate: Float, warmupSteps: Int = 0, stepEpochs: Int = 30, gamma: Float = 0.1) {
        self.kind = kind
        self.baseRate = baseRate
        self.warmupSteps = warmupSteps
        self.stepEpochs = max(1, stepEpochs)
        self.gamma = gamma
    }

    /// The rate for step `step` (0-based) of `totalSteps`, in epoch `epoch` (0-based).
    public func rate(step: Int, totalSteps: Int, epoch: Int) -> Float {
        if step < warmupSteps { return baseRate * Float(step + 1) / Float(warmupSteps) }
        switch kind {
        case .constant: return baseRate
        case .step: return baseRate * Foundation.pow(gamma, Float(epoch / stepEpochs))
        case .cosine:
            let span = max(1, totalSteps - warmupSteps)
            let progress = Float(step - warmupSteps) / Float(span)
            return baseRate * 0.5 * (1 + Foundation.cos(Float.pi * min(progress, 1)))
        }
    }
}
