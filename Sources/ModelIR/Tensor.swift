/// A dense tensor constant: an initializer, a Constant's value, or an attribute tensor.
///
/// Numeric data is kept as packed little-endian bytes in ONNX's raw layout, whatever form the file
/// stored it in, so kernels and rewrites see one representation. Strings are kept as byte strings.
public struct Tensor: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case bytes(TensorBytes)
        case strings([[UInt8]])
    }

    public var name: String
    public var dataType: DataType
    public var dims: [Int]
    public var storage: Storage
    /// Format-specific fields the IR does not model (doc strings, metadata, the storage form used).
    public var preserved: Preserved?

    public init(name: String = "", dataType: DataType, dims: [Int], storage: Storage, preserved: Preserved? = nil) {
        self.name = name
        self.dataType = dataType
        self.dims = dims
        self.storage = storage
        self.preserved = preserved
    }

    /// A float32 tensor holding `values`.
    public init(name: String = "", floats values: [Float], dims: [Int]) {
        let bytes = values.withUnsafeBytes { TensorBytes(copying: $0) }
        self.init(name: name, dataType: .float, dims: dims, storage: .bytes(bytes))
    }

    /// An int64 tensor holding `values`.
    public init(name: String = "", int64s values: [Int64], dims: [Int]) {
        let bytes = values.withUnsafeBytes { TensorBytes(copying: $0) }
        self.init(name: name, dataType: .int64, dims: dims, storage: .bytes(bytes))
    }

    /// Product of the dims; saturates at Int.max instead of trapping on hostile dims (which
    /// `validate()` rejects).
    public var elementCount: Int {
        dims.reduce(1) { total, d in
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            return overflow ? Int.max : p
        }
    }
    public var shape: Shape { Shape(fixed: dims) }
    public var type: TensorType { TensorType(dataType, shape) }

    public var bytes: TensorBytes? {
        if case .bytes(let b) = storage { return b }
        return nil
    }

    /// Checks that dims are non-negative, their product does not overflow, and the stored data
    /// has exactly the size the dims call for.
    public func validate() throws {
        var count = 1
        for d in dims {
            guard d >= 0 else { throw ModelError("tensor '\(name)' has a negative dimension \(d) in \(dims)") }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= 1 << 48 else { throw ModelError("tensor '\(name)' has absurd dimensions \(dims)") }
            count = p
        }
        switch storage {
        case .strings(let s):
            guard dataType == .string else { throw ModelError("tensor '\(name)' of type \(dataType) holds strings") }
            guard s.count == count else {
                throw ModelError("tensor '\(name)' has \(s.count) strings but dims \(dims) need \(count)")
            }
        case .bytes(let b):
            guard let need = dataType.byteCount(elements: count) else {
                throw ModelError("tensor '\(name)' has unsupported data type \(dataType)")
            }
            guard b.count == need else {
                throw ModelError("tensor '\(name)' holds \(b.count) bytes but \(dataType)\(dims) needs \(need)")
            }
        }
    }

    /// The elements converted to Float32 (integers, bools, 16/64-bit floats).
    public func floats() throws -> [Float] {
        guard case .bytes(let b) = storage else { throw ModelError("tensor '\(name)' holds strings, not numbers") }
        let n = elementCount
        return try [Float](unsafeUninitializedCapacity: n) { out, initialized in
            try Tensor.convert(b.buffer, type: dataType, count: n, name: name) { i, v in out[i] = Float(v) }
            initialized = n
        }
    }

    /// The elements converted to Int64 (for shapes, axes, indices). Floats are truncated.
    public func int64s() throws -> [Int64] {
        guard case .bytes(let b) = storage else { throw ModelError("tensor '\(name)' holds strings, not numbers") }
        let n = elementCount
        if dataType == .int64 {
            return [Int64](unsafeUninitializedCapacity: n) { out, initialized in
                _ = memcpy(out.baseAddress!, b.pointer, n * 8)
                initialized = n
            }
        }
        var result = [Int64](repeating: 0, count: n)
        try Tensor.convert(b.buffer, type: dataType, count: n, name: name) { i, v in
            result[i] = v.isFinite ? Int64(max(min(v, 9.2e18), -9.2e18)) : 0
        }
        return result
    }

    /// Calls `store(index, value)` for each element of packed little-endian data as Double, which
    /// holds every supported element type exactly except 64-bit integers beyond 2^53.
    static func convert(_ raw: UnsafeRawBufferPointer, type: DataType, count n: Int, name: String,
                        _ store: (Int, Double) -> Void) throws {
        func each<T>(_: T.Type, _ f: (T) -> Double) {
            for i in 0..<n { store(i, f(raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))) }
        }
        switch type {
        case .float: each(Float.self) { Double($0) }
        case .double: each(Double.self) { $0 }
        case .int8: each(Int8.self) { Double($0) }
        case .uint8: each(UInt8.self) { Double($0) }
        case .bool: each(UInt8.self) { $0 != 0 ? 1 : 0 }
        case .int16: each(Int16.self) { Double($0) }
        case .uint16: each(UInt16.self) { Double($0) }
        case .int32: each(Int32.self) { Double($0) }
        case .uint32: each(UInt32.self) { Double($0) }
        case .int64: each(Int64.self) { Double($0) }
        case .uint64: each(UInt64.self) { Double($0) }
        case .float16: each(UInt16.self) { Double(halfToFloat($0)) }
        case .bfloat16: each(UInt16.self) { Double(Float(bitPattern: UInt32($0) << 16)) }
        default:
            throw ModelError("tensor '\(name)': element type \(type) cannot be converted to numbers")
        }
    }
}

/// IEEE 754 binary16 to binary32, done by hand so it works on every platform Swift runs on.
@inline(__always)
public func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1f)
    let mantissa = UInt32(h & 0x3ff)
    if exponent == 0 {
        if mantissa == 0 { return Float(bitPattern: sign) }
        let value = Float(mantissa) * 0x1p-24
        return sign != 0 ? -value : value
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
