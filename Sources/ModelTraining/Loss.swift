import Foundation
import ModelIR
import ModelRuntime

/// Softmax cross-entropy with integer labels, averaged over the batch, with optional label
/// smoothing (the target is (1 − ε) · one-hot + ε / K, as PyTorch's `label_smoothing`).
public struct CrossEntropyLoss: Sendable {
    public var labelSmoothing: Float

    public init(labelSmoothing: Float = 0) { self.labelSmoothing = labelSmoothing }

    /// The loss, the number of samples whose largest logit is their label, and dLoss/dLogits.
    /// `logits` is [N, K] (trailing unit dimensions allowed).
    func evaluate(_ logits: RuntimeTensor, labels: [Int]) throws -> (loss: Double, correct: Int, grad: RuntimeTensor) {
        let n = logits.shape.first ?? 0
        guard n == labels.count, n > 0 else {
            throw ModelError("the output has \(n) rows for \(labels.count) labels")
        }
        let k = logits.count / n
        guard logits.shape.dropFirst().filter({ $0 != 1 }).count <= 1 else {
            throw ModelError("the loss needs logits of shape [N, classes], the model gives \(logits.shape)")
        }
        let grad = try RuntimeTensor.uninitialized(logits.shape)
        let lp = logits.floatPointer, gp = grad.floatPointer
        let eps = Double(labelSmoothing)
        var total = 0.0, correct = 0
        for row in 0..<n {
            let label = labels[row]
            guard label >= 0 && label < k else { throw ModelError("label \(label) is outside the model's \(k) classes") }
            let z = lp + row * k
            var best = 0
            var top = z[0]
            for j in 1..<max(k, 1) where z[j] > top { (top, best) = (z[j], j) }
            if best == label { correct += 1 }
            var s = 0.0
            for j in 0..<k { s += Foundation.exp(Double(z[j] - top)) }
            let logSum = Foundation.log(s) + Double(top)
            // −Σ target · log p, target = (1 − ε) one-hot + ε / K.
            var mean = 0.0
            for j in 0..<k { mean += Double(z[j]) }
            total += (1 - eps) * (logSum - Double(z[label])) + eps * (logSum - mean / Double(k))
            for j in 0..<k {
                let p = Foundation.exp(Double(z[j]) - logSum)
                let target = (j == label ? 1 - eps : 0) + eps / Double(k)
                gp[row * k + j] = Float((p - target) / Double(n))
            }
        }
        return (total / Double(n), correct, grad)
    }
}
