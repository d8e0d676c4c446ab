import Foundation
import ModelIR
import ModelRuntime

/// BatchNormalization in training mode: normalised with the batch's statistics, running mean
/// and variance updated with the node's momentum (running = momentum · running + (1 − momentum) ·
/// batch, ONNX's convention; the variance fed to it is the unbiased one, as PyTorch does, or the
/// biased one, as Keras does, see `TrainingConventions`).
enum NormalizationGradients {
    /// What the backward pass needs from the forward: per-channel batch mean and 1/σ.
    final class BatchStatistics {
        let mean: [Float], inverseStd: [Float]
        init(mean: [Float], inverseStd: [Float]) { (self.mean, self.inverseStd) = (mean, inverseStd) }
    }

    static func batchNormForward(_ node: Node, unbiasedRunningVariance: Bool = true) -> TrainingForward {
        let attributes = BatchNormalizationAttributes(node), epsilon = attributes.epsilon, momentum = attributes.momentum
        return { inputs, state in
            guard let x = inputs[0], x.rank >= 2, inputs.count >= 5, let scale = inputs[1], let bias = inputs[2],
                  let runningMean = inputs[3], let runningVar = inputs[4] else {
                throw ModelError("BatchNormalization needs X, scale, B, mean and var")
            }
            let n = x.shape[0], c = x.shape[1], size = x.shape[2...].reduce(1, *), count = n * size
            guard scale.count == c, bias.count == c, runningMean.count == c, runningVar.count == c else {
                throw ModelError("BatchNormalization parameters do not have \(c) values")
            }
            let xp = x.floatPointer, sp = scale.floatPointer, bp = bias.floatPointer
            var mean = [Float](repeating: 0, count: c), inverseStd = mean
            let y = try RuntimeTensor.uninitialized(x.shape, arena: state.arena)
            let yp = y.floatPointer
            let newMean = try RuntimeTensor.uninitialized([c]), newVar = try RuntimeTensor.uninitialized([c])
            mean.withUnsafeMutableBufferPointer { meanp in
                inverseStd.withUnsafeMutableBufferPointer { isp in
                    RuntimeParallel.chunks(c, threads: state.threads, cost: count * 3) { r in
                        for ch in r {
                            // Two passes, the mean, then the centred squares: each plane summed in
                            // float lanes, the planes in Double.
                            var s = 0.0
                            for image in 0..<n { s += Double(Lanes.sum(xp + (image * c + ch) * size, size)) }
                            let mu = s / Double(max(count, 1))
                            var q = 0.0
                            for image in 0..<n {
                                q += Double(Lanes.centredSquares(xp + (image * c + ch) * size, size, Float(mu)))
                            }
                            let variance = q / Double(max(count, 1))
                            let inv = Float(1 / (variance + Double(epsilon)).squareRoot())
                            meanp[ch] = Float(mu)
                            isp[ch] = inv
                            let a = sp[ch] * inv, b = bp[ch] - Float(mu) * a
                            for image in 0..<n {
                                let p = xp + (image * c + ch) * size, o = yp + (image * c + ch) * size
                                for i in 0..<size { o[i] = p[i] * a + b }
                            }
                            let fed = unbiasedRunningVariance && count > 1 ? q / Double(count - 1) : variance
                            newMean.floatPointer[ch] = momentum * runningMean.floatPointer[ch] + (1 - momentum) * Float(mu)
                            newVar.floatPointer[ch] = momentum * runningVar.floatPointer[ch] + (1 - momentum) * Float(fed)
                        }
                    }
                }
            }
            state.updatedInputs[3] = newMean
            state.updatedInputs[4] = newVar
            return ([y], BatchStatistics(mean: mean, inverseStd: inverseStd))
        }
    }

    /// dX = γ/σ · (dY − mean(dY) − x̂ · mean(dY · x̂)), dγ = Σ dY · x̂, dβ = Σ dY.
    static let batchNorm = GradientRule.differentiable { g in
        guard let stats = g.saved as? BatchStatistics else {
            throw ModelError("BatchNormalization's training forward kept no statistics")
        }
        let x = try g.input(0), scale = try g.input(1), dy = try g.grad()
        let n = x.shape[0], c = x.shape[1], size = x.shape[2...].reduce(1, *), count = Float(n * size)
        let dx = g.wants(0) ? try g.floats(x.shape, zeroed: false) : nil
        let dScale = try RuntimeTensor.uninitialized([c]), dBias = try RuntimeTensor.uninitialized([c])
        let xp = x.floatPointer, dyp = dy.floatPointer, sp = scale.floatPointer
        RuntimeParallel.chunks(c, threads: g.threads, cost: n * size * 3) { r in
            for ch in r {
                let mu = stats.mean[ch], inv = stats.inverseStd[ch]
                var sumDy: Float = 0, sumDyX: Float = 0
                for image in 0..<n {
                    let p = xp + (image * c + ch) * size, d = dyp + (image * c + ch) * size
                    sumDy += Lanes.sum(d, size)
                    sumDyX += Lanes.centredDot(d, p, size, mu) * inv
                }
                dScale.floatPointer[ch] = sumDyX
                dBias.floatPointer[ch] = sumDy
                guard let dx else { continue }
                let k = sp[ch] * inv, meanDy = sumDy / count, meanDyX = sumDyX / count
                for image in 0..<n {
                    let p = xp + (image * c + ch) * size, d = dyp + (image * c + ch) * size
                    let o = dx.floatPointer + (image * c + ch) * size
                    for i in 0..<size { o[i] = k * (d[i] - meanDy - (p[i] - mu) * inv * meanDyX) }
                }
            }
        }
        return [dx, g.wants(1) ? dScale : nil, g.wants(2) ? dBias : nil, nil, nil]
    }

    /// Dropout in training: each element kept with probability 1 − ratio and scaled by
    /// 1 / (1 − ratio), from the trainer's seeded generator. The ratio comes from the attribute
    /// before opset 12, from input 1 after (default 0.5).
    final class DropoutMask {
        let scale: [Float]
        init(_ scale: [Float]) { self.scale = scale }
    }

    static func dropoutForward(_ node: Node, _ opset: Int) -> TrainingForward {
        { inputs, state in
            guard let x = inputs[0] else { throw ModelError("Dropout needs its input") }
            var ratio = opset < 12 ? DropoutAttributes(node).ratio : DropoutAttributes.defaultRatio
            if opset >= 12, inputs.count > 1, let r = inputs[1] { ratio = r.floats.first ?? DropoutAttributes.defaultRatio }
            guard ratio >= 0 && ratio < 1 else { throw ModelError("dropout ratio \(ratio) is outside [0, 1)") }
            let keep = 1 / (1 - ratio)
            var scale = [Float](repeating: 0, count: x.count)
            for i in scale.indices where state.random.nextUnit() >= ratio { scale[i] = keep }
            let y = try RuntimeTensor.uninitialized(x.shape)
            let xp = x.floatPointer, yp = y.floatPointer
            for i in scale.indices { yp[i] = xp[i] * scale[i] }
            var outputs = [y]
            if node.outputs.count > 1 {
                outputs.append(try RuntimeTensor(shape: x.shape, int64s: scale.map { $0 > 0 ? 1 : 0 }))
            }
            return (outputs, DropoutMask(scale))
        }
    }

    static let dropout = GradientRule.differentiable { g in
        guard g.wants(0) else { return [nil] }
        guard let mask = g.saved as? DropoutMask else { throw ModelError("Dropout's training forward kept no mask") }
        let dy = try g.grad()
        let dx = try g.floats(dy.shape, zeroed: false)
        let dyp = dy.floatPointer, dxp = dx.floatPointer
        for i in 0..<dy.count { dxp[i] = dyp[i] * mask.scale[i] }
        return [dx]
    }
}

/// Sums over a run of floats in eight lanes (vectorised; Swift does not reorder a scalar sum).
enum Lanes {
    /// Σ p[i].
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD8<Float>(), tail: Float = 0, i = 0
        while i + 8 <= count {
            acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { tail += p[i]; i += 1 }
        return acc.sum() + tail
    }

    /// Σ (p[i] − mean)².
    @inline(__always)
    static func centredSquares(_ p: UnsafePointer<Float>, _ count: Int, _ mean: Float) -> Float {
        var acc = SIMD8<Float>(), tail: Float = 0, i = 0
        let m = SIMD8<Float>(repeating: mean)
        while i + 8 <= count {
            let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - m
            acc.addProduct(d, d)
            i += 8
        }
        while i < count { let d = p[i] - mean; tail += d * d; i += 1 }
        return acc.sum() + tail
    }

    /// Σ d[i] · (p[i] − mean).
    @inline(__always)
    static func centredDot(_ d: UnsafePointer<Float>, _ p: UnsafePointer<Float>, _ count: Int, _ mean: Float) -> Float {
        var acc = SIMD8<Float>(), tail: Float = 0, i = 0
        let m = SIMD8<Float>(repeating: mean)
        while i + 8 <= count {
            let vd = UnsafeRawPointer(d + i).loadUnaligned(as: SIMD8<Float>.self)
            let vp = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            acc.addProduct(vd, vp - m)
            i += 8
        }
        while i < count { tail += d[i] * (p[i] - mean); i += 1 }
        return acc.sum() + tail
    }
}
