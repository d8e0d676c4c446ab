import Foundation
import ModelIR
import ModelRuntime

/// Gradients of the activations: element-wise functions (dx = dy · f'(x)), PRelu, Softmax and
/// LogSoftmax. Attributes default as in the ONNX specification, as the forward kernels read them.
enum ActivationGradients {
    /// dx = dy · derivative(x, y) for a function of input 0 alone.
    static func unary(_ derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> GradientRule {
        .differentiable { g in
            guard g.wants(0) else { return [nil] }
            let x = try g.input(0), y = g.outputs[0], dy = try g.grad()
            let dx = try g.floats(x.shape, zeroed: false)
            let xp = x.floatPointer, yp = y.floatPointer, dyp = dy.floatPointer, dxp = dx.floatPointer
            RuntimeParallel.chunks(x.count, threads: g.threads, cost: 4) { r in
                for i in r { dxp[i] = dyp[i] * derivative(xp[i], yp[i]) }
            }
            return [dx] + Array(repeating: nil, count: max(0, g.inputs.count - 1))
        }
    }

    static let relu = GradientRule.differentiable { g in
        guard g.wants(0) else { return [nil] }
        let y = g.outputs[0], dy = try g.grad()
        let dx = try g.floats(y.shape, zeroed: false)
        let yp = y.floatPointer, dyp = dy.floatPointer, dxp = dx.floatPointer
        RuntimeParallel.chunks(y.count, threads: g.threads, cost: 2) { r in
            passWhere(r, dyp, dxp) { i in yp[i] > 0 } lanes: { at in
                UnsafeRawPointer(yp + at).loadUnaligned(as: SIMD8<Float>.self) .> 0
            }
        }
        return [dx]
    }

    /// dx[i] = dy[i] where `keep(i)`, else 0, over `range`: eight lanes at a time (`lanes(at)`
    /// is the mask of elements at..<at+8), the rest one by one. ReLU's and ReLU6's gradients.
    @inline(__always)
    static func passWhere(_ range: Range<Int>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                          _ keep: (Int) -> Bool, lanes: (Int) -> SIMDMask<SIMD8<Int32>>) {
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let d = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dx + i).storeBytes(of: SIMD8<Float>().replacing(with: d, where: lanes(i)),
                                                      as: SIMD8<Float>.self)
            i += 8
        }
        while i < range.upperBound { dx[i] = keep(i) ? dy[i] : 0; i += 1 }
    }

    static func leakyRelu(_ node: Node) -> GradientRule {
        let alpha = LeakyReluAttributes(node).alpha
        return unary { x, _ in x > 0 ? 1 : alpha }
    }

    static func thresholdedRelu(_ node: Node) -> GradientRule {
        let alpha = ThresholdedReluAttributes(node).alpha
        return unary { x, _ in x > alpha ? 1 : 0 }
    }

    static func elu(_ node: Node) -> GradientRule {
        let alpha = EluAttributes(node).alpha
        return unary { x, y in x > 0 ? 1 : y + alpha }
    }

    static func selu(_ node: Node) -> GradientRule {
        let attributes = SeluAttributes(node), alpha = attributes.alpha, gamma = attributes.gamma
        return unary { x, y in x > 0 ? gamma : y + gamma * alpha }
    }

    static func hardSigmoid(_ node: Node) -> GradientRule {
        let attributes = HardSigmoidAttributes(node), alpha = attributes.alpha, beta = attributes.beta
        return unary { x, _ in
            let v = alpha * x + beta
            return v > 0 && v < 1 ? alpha : 0
        }
    }

    static let hardSwish = unary { x, _ in x < -3 ? 0 : (x > 3 ? 1 : x / 3 + 0.5) }
    static let sigmoid = unary { _, y in y * (1 - y) }
    static let tanh = unary { _, y in 1 - y * y }
    static let softplus = unary { x, _ in 1 / (1 + Foundation.exp(-x)) }
    static let softsign = unary { x, _ in
        let d = 1 + Swift.abs(x)
        return 1 / (d * d)
    }
    static let erf = unary { x, _ in 2 / Float.pi.squareRoot() * Foundation.exp(-x * x) }
    static let exp = unary { _, y in y }
    static let log = unary { x, _ in 1 / x }
    static let sqrt = unary { _, y in 0.5 / y }
    static let neg = unary { _, _ in -1 }
    static let abs = unary { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }
    static let reciprocal = unary { _, y in -y * y }

    static func gelu(_ node: Node) -> GradientRule {
        if GeluAttributes(node).usesTanh {
            let c = (2 / Float.pi).squareRoot()
            return unary { x, _ in
                let u = c * (x + 0.044715 * x * x * x)
                let t = Foundation.tanh(u)
                return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
            }
        }
        return unary { x, _ in
            let cdf = 0.5 * (1 + Foundation.erf(x / Float(2).squareRoot()))
            return cdf + x * Foundation.exp(-0.5 * x * x) / (2 * Float.pi).squareRoot()
        }
    }

    /// Clip passes the gradient where min < x < max (bounds from attributes before opset 11, from
    /// inputs 1 and 2 after), as PyTorch's hardtanh and clamp do.
    static func clip(_ node: Node, _ opset: Int) -> GradientRule {
        .differentiable { g in
            let lo: Float, hi: Float
            if opset < 11 {
                let bounds = ClipAttributes(node)
                lo = bounds.min
                hi = bounds.max
            } else {
                lo = try scalar(g, 1) ?? -.infinity
                hi = try scalar(g, 2) ?? .infinity
            }
            var result = [RuntimeTensor?](repeating: nil, count: g.inputs.count)
            guard g.wants(0) else { return result }
            // A loop of its own, not `unaryResult`'s closure per element: MobileNet's ReLU6.
            let x = try g.input(0), dy = try g.grad()
            let dx = try g.floats(x.shape, zeroed: false)
            let xp = x.floatPointer, dyp = dy.floatPointer, dxp = dx.floatPointer
            RuntimeParallel.chunks(x.count, threads: g.threads, cost: 2) { r in
                passWhere(r, dyp, dxp) { i in xp[i] > lo && xp[i] < hi } lanes: { at in
                    let v = UnsafeRawPointer(xp + at).loadUnaligned(as: SIMD8<Float>.self)
                    return (v .> lo) .& (v .< hi)
                }
            }
            result[0] = dx
            return result
        }
    }

    static func scalar(_ g: GradientInputs, _ i: Int) throws -> Float? {
        guard i < g.inputs.count, let t = g.inputs[i] else { return nil }
        guard t.count == 1 else { throw ModelError("input \(i) must hold one value, has shape \(t.shape)") }
        return t.floats[0]
    }

    /// dx for input 0 of an element-wise function, nil when not wanted.
    static func unaryResult(_ g: GradientInputs, _ derivative: (Float, Float) -> Float) throws -> RuntimeTensor? {
        guard g.wants(0) else { return nil }
        let x = try g.input(0), y = g.outputs[0], dy = try g.grad()
        let dx = try g.floats(x.shape, zeroed: false)
        let xp = x.floatPointer, yp = y.floatPointer, dyp = dy.floatPointer, dxp = dx.floatPointer
        for i in 0..<x.count { dxp[i] = dyp[i] * derivative(xp[i], yp[i]) }
        return dx
    }

    /// PRelu: y = x for x > 0, slope · x otherwise, with the slope broadcast to x.
    static let pRelu = GradientRule.differentiable { g in
        let x = try g.input(0), slope = try g.input(1), dy = try g.grad()
        let shape = try Broadcasting.shape(x.shape, slope.shape)
        guard shape == x.shape else { throw ModelError("slope \(slope.shape) does not broadcast to X \(x.shape)") }
        let sIndex = Broadcasting.indexMap(from: slope.shape, to: shape)
        let xp = x.floatPointer, sp = slope.floatPointer, dyp = dy.floatPointer
        var dx: RuntimeTensor? = nil, ds: RuntimeTensor? = nil
        if g.wants(0) {
            let t = try RuntimeTensor.uninitialized(x.shape)
            let dxp = t.floatPointer
            for i in 0..<x.count { dxp[i] = xp[i] > 0 ? dyp[i] : dyp[i] * sp[sIndex[i]] }
            dx = t
        }
        if g.wants(1) {
            let t = try RuntimeTensor.filled(slope.shape)
            let dsp = t.floatPointer
            for i in 0..<x.count where xp[i] <= 0 { dsp[sIndex[i]] += dyp[i] * xp[i] }
            ds = t
        }
        return [dx, ds]
    }

    /// Softmax and LogSoftmax along `axis` (opset < 13: the input flattened to 2-D at `axis`,
    /// default 1; from 13: that axis alone, default −1).
    static func softmax(_ node: Node, _ opset: Int, log: Bool) -> GradientRule {
        .differentiable { g in
            guard g.wants(0) else { return [nil] }
            let y = g.outputs[0], dy = try g.grad()
            let rank = y.rank
            guard var axis = node.axis(opset: Int64(opset)) else { throw ModelError("missing attribute 'axis'") }
            if axis < 0 { axis += rank }
            guard axis >= 0 && axis < max(rank, 1) else { throw ModelError("axis out of range for rank \(rank)") }
            let outer: Int, n: Int, inner: Int
            if opset < 13 {
                (outer, n, inner) = (y.shape[..<axis].reduce(1, *), y.shape[axis...].reduce(1, *), 1)
            } else {
                (outer, n, inner) = (y.shape[..<axis].reduce(1, *), y.shape[axis], y.shape[(axis + 1)...].reduce(1, *))
            }
            let dx = try g.floats(y.shape, zeroed: false)
            let yp = y.floatPointer, dyp = dy.floatPointer, dxp = dx.floatPointer
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    var s: Float = 0
                    for k in 0..<n {
                        let at = base + k * inner
                        s += log ? dyp[at] : dyp[at] * yp[at]
                    }
                    for k in 0..<n {
                        let at = base + k * inner
                        dxp[at] = log ? dyp[at] - Foundation.exp(yp[at]) * s : yp[at] * (dyp[at] - s)
                    }
                }
            }
            return [dx]
        }
    }
}
