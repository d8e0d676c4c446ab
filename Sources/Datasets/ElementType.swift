/// A stored numeric element type; every one converts to Float32 on read.
public enum ElementType: String, CaseIterable, Sendable {
    case bool, uint8, int8, uint16, int16, uint32, int32, uint64, int64, float16, float32, float64

    /// Bytes per element in the file.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .uint16, .int16, .float16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        }
    }

    /// Converts `count` elements at `source` (element-aligned but possibly not pointer-aligned)
    /// to Float, writing `destination[i * stride]`. `swapped` means the stored byte order is
    /// the opposite of the machine's.
    func convert(_ source: UnsafeRawPointer, count: Int, swapped: Bool,
                 to destination: UnsafeMutablePointer<Float>, stride: Int) {
        switch self {
        case .bool, .uint8: run(source, count, destination, stride) { (v: UInt8) in Float(v) }
        case .int8: run(source, count, destination, stride) { (v: Int8) in Float(v) }
        case .uint16: run(source, count, destination, stride) { (v: UInt16) in Float(swapped ? v.byteSwapped : v) }
        case .int16: run(source, count, destination, stride) { (v: Int16) in Float(swapped ? v.byteSwapped : v) }
        case .uint32: run(source, count, destination, stride) { (v: UInt32) in Float(swapped ? v.byteSwapped : v) }
        case .int32: run(source, count, destination, stride) { (v: Int32) in Float(swapped ? v.byteSwapped : v) }
        case .uint64: run(source, count, destination, stride) { (v: UInt64) in Float(swapped ? v.byteSwapped : v) }
        case .int64: run(source, count, destination, stride) { (v: Int64) in Float(swapped ? v.byteSwapped : v) }
        case .float16:
            run(source, count, destination, stride) { (v: UInt16) in
                Float(Float16(bitPattern: swapped ? v.byteSwapped : v))
            }
        case .float32:
            if !swapped && stride == 1 {
                UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
            } else {
                run(source, count, destination, stride) { (v: UInt32) in
                    Float(bitPattern: swapped ? v.byteSwapped : v)
                }
            }
        case .float64:
            run(source, count, destination, stride) { (v: UInt64) in
                Float(Double(bitPattern: swapped ? v.byteSwapped : v))
            }
        }
    }
}

/// The tight loop behind `convert`: one unaligned load, one conversion, one store per element.
@inline(__always)
private func run<T>(_ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Float>,
                    _ stride: Int, _ transform: (T) -> Float) {
    let size = MemoryLayout<T>.size
    if stride == 1 {
        for i in 0..<count {
            destination[i] = transform(source.loadUnaligned(fromByteOffset: i * size, as: T.self))
        }
    } else {
        for i in 0..<count {
            destination[i * stride] = transform(source.loadUnaligned(fromByteOffset: i * size, as: T.self))
        }
    }
}
