import ModelIR

extension Tensor {
    /// The tensor keeping only indices `kept` along `axis` (raw bytes, any type of 8 bits or more).
    func sliced(axis: Int, kept: [Int]) throws -> Tensor {
        guard axis >= 0, axis < dims.count else { throw ModelError("tensor '\(name)' has no axis \(axis)") }
        guard let bits = dataType.bitWidth, bits % 8 == 0, let bytes else {
            throw ModelError("tensor '\(name)' of type \(dataType) cannot be sliced")
        }
        let n = dims[axis]
        guard kept.allSatisfy({ $0 >= 0 && $0 < n }) else { throw ModelError("tensor '\(name)': index out of range on axis \(axis)") }
        let outer = dims[..<axis].reduce(1, *)
        let inner = dims[(axis + 1)...].reduce(1, *) * (bits / 8)
        let out = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(outer * kept.count * inner, 1), alignment: 64)
        var w = 0
        for o in 0..<outer {
            for k in kept {
                out.advanced(by: w).copyMemory(from: bytes.pointer.advanced(by: (o * n + k) * inner), byteCount: inner)
                w += inner
            }
        }
        var t = self
        t.dims[axis] = kept.count
        t.storage = .bytes(TensorBytes(taking: out, count: w))
        return t
    }

    /// The same tensor holding `values` (float32 or float64 stay what they are).
    func replacingValues(_ values: [Double], dims newDims: [Int]) throws -> Tensor {
        var t = self
        t.dims = newDims
        switch dataType {
        case .float: t.storage = .bytes(values.map(Float.init).withUnsafeBytes { TensorBytes(copying: $0) })
        case .double: t.storage = .bytes(values.withUnsafeBytes { TensorBytes(copying: $0) })
        default: throw ModelError("tensor '\(name)' of type \(dataType) cannot take compensation")
        }
        return t
    }

    var doubles: [Double] { get throws { try floats().map(Double.init) } }
}
