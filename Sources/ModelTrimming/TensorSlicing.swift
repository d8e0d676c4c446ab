import ModelIR

extension Tensor {
    /// The tensor keeping, along each axis of `keeping`, only the given ascending indices, in one
    /// pass (raw bytes, any type of 8 bits or more). One pass matters for a weight sliced on both
    /// axes: two passes held both copies at once (VGG-16's fc6: 308 and 231 MB). The source's
    /// pages (a mapped file's) are given back every 64 MB as the copy moves past them.
    func sliced(keeping: [Int: [Int]]) throws -> Tensor {
        guard let last = keeping.keys.max() else { return self }
        guard keeping.keys.allSatisfy({ $0 >= 0 }), last < dims.count else {
            throw ModelError("tensor '\(name)' has no axis \(last)")
        }
        guard let bits = dataType.bitWidth, bits % 8 == 0, let bytes else {
            throw ModelError("tensor '\(name)' of type \(dataType) cannot be sliced")
        }
        let kept = (0...last).map { keeping[$0] ?? Array(0..<dims[$0]) }
        for a in 0...last where !kept[a].allSatisfy({ $0 >= 0 && $0 < dims[a] }) {
            throw ModelError("tensor '\(name)': index out of range on axis \(a)")
        }
        // Bytes of one copied block (the axes after the last sliced one) and each axis's stride.
        let inner = dims[(last + 1)...].reduce(1, *) * (bits / 8)
        var strides = [Int](repeating: inner, count: last + 1)
        for a in stride(from: last - 1, through: 0, by: -1) { strides[a] = strides[a + 1] * dims[a + 1] }
        let blocks = kept.reduce(1) { $0 * $1.count }
        let out = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(blocks * inner, 1), alignment: 64)
        let chunk = 64 << 20
        var released = 0, w = 0
        if blocks > 0 {
            var index = [Int](repeating: 0, count: last + 1)
            while true {
                var from = 0
                for a in 0...last { from += kept[a][index[a]] * strides[a] }
                out.advanced(by: w).copyMemory(from: bytes.pointer.advanced(by: from), byteCount: inner)
                w += inner
                // The indices ascend, so the source offset does too.
                if from - released >= chunk {
                    bytes.releaseResidentPages(in: released..<from)
                    released = from
                }
                var a = last
                while a >= 0 {
                    index[a] += 1
                    if index[a] < kept[a].count { break }
                    index[a] = 0
                    a -= 1
                }
                if a < 0 { break }
            }
        }
        var t = self
        for (a, k) in keeping { t.dims[a] = k.count }
        t.storage = .bytes(TensorBytes(taking: out, count: w))
        return t
    }

    /// The tensor keeping only indices `kept` (ascending) along `axis`.
    func sliced(axis: Int, kept: [Int]) throws -> Tensor {
        guard axis >= 0, axis < dims.count else { throw ModelError("tensor '\(name)' has no axis \(axis)") }
        return try sliced(keeping: [axis: kept])
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

    /// Calls `body` with a reader of element i as Double, straight from the stored bytes: a
    /// compensation reads only the removed channels' weights, and a copy of the whole weight in
    /// doubles cost `trim` more memory than the file (VGG-16's fc6 is 411 MB of floats).
    func withElements<R>(_ body: ((Int) -> Double) throws -> R) throws -> R {
        guard let bytes else { throw ModelError("tensor '\(name)' holds strings, not numbers") }
        return try bytes.withUnsafeBytes { raw in
            switch dataType {
            case .float: return try body { Double(raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self)) }
            case .double: return try body { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
            case .float16: return try body { Double(halfToFloat(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
            case .bfloat16:
                return try body { Double(Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) << 16)) }
            default:
                let all = try doubles
                return try body { all[$0] }
            }
        }
    }
}
