import ModelIR
import ModelRuntime

/// Numpy-style broadcasting, for the gradients of operators whose inputs broadcast together.
enum Broadcasting {
    /// The broadcast shape of two shapes.
    static func shape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a, pb = Array(repeating: 1, count: rank - b.count) + b
        return try zip(pa, pb).map { x, y in
            guard x == y || x == 1 || y == 1 else { throw ModelError("shapes \(a) and \(b) do not broadcast") }
            return x == 1 ? y : x
        }
    }

    /// For each flat index of `big`, the flat index of the element of `small` broadcast there.
    static func indexMap(from small: [Int], to big: [Int]) -> [Int] {
        let count = big.reduce(1, *)
        if small == big { return Array(0..<count) }
        let padded = Array(repeating: 1, count: big.count - small.count) + small
        var strides = [Int](repeating: 0, count: big.count)
        var acc = 1
        for k in stride(from: big.count - 1, through: 0, by: -1) {
            strides[k] = padded[k] == 1 ? 0 : acc
            acc *= padded[k]
        }
        // The runtime's strided walk over the small tensor's own flat indices.
        return RuntimeParallel.stridedGather(Array(0..<small.reduce(1, *)), strides: strides, shape: big)
    }

    /// `grad` (of the broadcast shape) summed down to `shape`.
    static func reduce(_ grad: RuntimeTensor, to shape: [Int]) throws -> RuntimeTensor {
        if grad.shape == shape { return grad }
        let out = try RuntimeTensor.filled(shape)
        let map = indexMap(from: shape, to: grad.shape)
        let gp = grad.floatPointer, op = out.floatPointer
        for i in 0..<grad.count { op[map[i]] += gp[i] }
        return out
    }

    /// `values[i] · scale(i)` summed down to `shape`, where `scale` reads the broadcast index.
    static func reduce(_ count: Int, bigShape: [Int], to shape: [Int], _ value: (Int) -> Float) throws -> RuntimeTensor {
        let out = try RuntimeTensor.filled(shape)
        let op = out.floatPointer
        if bigShape == shape {
            for i in 0..<count { op[i] = value(i) }
        } else {
            let map = indexMap(from: shape, to: bigShape)
            for i in 0..<count { op[map[i]] += value(i) }
        }
        return out
    }
}

/// Gradients of Add, Sub, Mul, Div, Sum and Mean, with broadcasting: each input's gradient is
/// the output's, scaled, and summed over the axes that input was broadcast along.
enum ElementwiseGradients {
    /// Sum and Mean (any number of inputs) and Add/Sub (two).
    static func linear(_ kind: OpKind) -> GradientRule {
        .differentiable { g in
            let dy = try g.grad()
            let n = g.inputs.count
            return try (0..<n).map { i -> RuntimeTensor? in
                guard g.wants(i), let x = g.inputs[i] else { return nil }
                let sign: Float = kind == .sub && i == 1 ? -1 : (kind == .mean ? 1 / Float(n) : 1)
                if sign == 1 { return try Broadcasting.reduce(dy, to: x.shape) }
                let dyp = dy.floatPointer
                return try Broadcasting.reduce(dy.count, bigShape: dy.shape, to: x.shape) { dyp[$0] * sign }
            }
        }
    }

    static let mul = GradientRule.differentiable { g in
        let a = try g.input(0), b = try g.input(1), dy = try g.grad()
        let shape = dy.shape
        let ia = Broadcasting.indexMap(from: a.shape, to: shape), ib = Broadcasting.indexMap(from: b.shape, to: shape)
        let ap = a.floatPointer, bp = b.floatPointer, dyp = dy.floatPointer
        let da = g.wants(0) ? try Broadcasting.reduce(dy.count, bigShape: shape, to: a.shape) { dyp[$0] * bp[ib[$0]] } : nil
        let db = g.wants(1) ? try Broadcasting.reduce(dy.count, bigShape: shape, to: b.shape) { dyp[$0] * ap[ia[$0]] } : nil
        return [da, db]
    }

    static let div = GradientRule.differentiable { g in
        let a = try g.input(0), b = try g.input(1), dy = try g.grad()
        let shape = dy.shape
        let ia = Broadcasting.indexMap(from: a.shape, to: shape), ib = Broadcasting.indexMap(from: b.shape, to: shape)
        let ap = a.floatPointer, bp = b.floatPointer, dyp = dy.floatPointer
        let da = g.wants(0) ? try Broadcasting.reduce(dy.count, bigShape: shape, to: a.shape) { dyp[$0] / bp[ib[$0]] } : nil
        let db = g.wants(1) ? try Broadcasting.reduce(dy.count, bigShape: shape, to: b.shape) {
            let v = bp[ib[$0]]
            return -dyp[$0] * ap[ia[$0]] / (v * v)
        } : nil
        return [da, db]
    }
}
