import CONNX
import ModelIR

#if canImport(Glibc)
import Glibc
#endif

/// Owns a message tree decoded by protobuf-c and frees it when the last tensor borrowing its
/// memory goes away. Tensors read from a file alias the decoded raw_data instead of copying it.
final class DecodedMessage: @unchecked Sendable {
    let message: UnsafeMutablePointer<ProtobufCMessage>

    init(_ message: UnsafeMutablePointer<ProtobufCMessage>) { self.message = message }

    deinit { protobuf_c_message_free_unpacked(message, nil) }
}

/// Serialises any protobuf-c message (pointer to its struct, whose first member is the base).
func packMessage<T>(_ message: UnsafePointer<T>) -> [UInt8] {
    message.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { base in
        let size = protobuf_c_message_get_packed_size(base)
        guard size > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: size) { out, count in
            count = protobuf_c_message_pack(base, out.baseAddress)
        }
    }
}

func packedSize<T>(_ message: UnsafePointer<T>) -> Int {
    message.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { protobuf_c_message_get_packed_size($0) }
}

/// The message serialised with some fields cleared: `clear` edits a copy of the struct in place
/// (only pointer/count fields may be changed), the original is untouched.
func residual<T>(of message: UnsafeMutablePointer<T>, clear: (inout T) -> Void) -> [UInt8] {
    var copy = message.pointee
    clear(&copy)
    return withUnsafePointer(to: &copy) { packMessage($0) }
}

/// A generated `onnx__*__unpack` function.
typealias Unpack<T> = (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<T>?

/// Decodes `bytes` with a generated unpack function, or nil when they are not a valid encoding.
func unpackMessage<T>(_ unpack: Unpack<T>, _ bytes: [UInt8]) -> DecodedMessage? {
    bytes.withUnsafeBufferPointer { buf in
        unpack(nil, buf.count, buf.baseAddress).map {
            DecodedMessage(UnsafeMutableRawPointer($0).assumingMemoryBound(to: ProtobufCMessage.self))
        }
    }
}

extension DecodedMessage {
    func typed<T>(_: T.Type) -> UnsafeMutablePointer<T> { UnsafeMutableRawPointer(message).assumingMemoryBound(to: T.self) }
}

/// A C string field as a Swift string ("" for NULL).
@inline(__always)
func string(_ p: UnsafeMutablePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(cString: p)
}

/// A repeated C-string field as Swift strings.
func strings(_ count: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    guard let p, count > 0 else { return [] }
    return (0..<count).map { string(p[$0]) }
}

/// Elements of a repeated field as a Swift array.
func array<T>(_ count: Int, _ p: UnsafeMutablePointer<T>?) -> [T] {
    guard let p, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: p, count: count))
}

/// The pointers of a repeated message field.
func messages<T>(_ count: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?) -> [UnsafeMutablePointer<T>] {
    guard let p, count > 0 else { return [] }
    return (0..<count).compactMap { p[$0] }
}

func bytes(_ b: ProtobufCBinaryData) -> [UInt8] {
    guard let d = b.data, b.len > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: d, count: b.len))
}

/// Allocations made while building a message tree for the writer; all freed together. Memory
/// borrowed from tensors is referenced, never copied or freed here.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var keepAlive: [AnyObject] = []

    deinit { for b in blocks { free(b) } }

    /// A zeroed C struct of type T, initialised by `initialize` (the generated `*__init`).
    func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let raw = calloc(1, MemoryLayout<T>.stride)!
        blocks.append(raw)
        let p = raw.bindMemory(to: T.self, capacity: 1)
        initialize(p)
        return p
    }

    func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        blocks.append(UnsafeMutableRawPointer(p))
        return p
    }

    /// A C string for an optional field: NULL when the value is empty and the field was absent.
    func cString(_ s: String, present: Bool) -> UnsafeMutablePointer<CChar>? {
        present || !s.isEmpty ? cString(s) : nil
    }

    func buffer<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let raw = malloc(MemoryLayout<T>.stride * values.count)!
        blocks.append(raw)
        let p = raw.bindMemory(to: T.self, capacity: values.count)
        _ = UnsafeMutableBufferPointer(start: p, count: values.count).initialize(from: values)
        return p
    }

    func cStrings(_ values: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        buffer(values.map { Optional(cString($0)) })
    }

    func pointers<T>(_ values: [UnsafeMutablePointer<T>]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        buffer(values.map { Optional($0) })
    }

    func binary(_ values: [UInt8]) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: values.count, data: buffer(values))
    }

    /// Binary data that points into `owner`'s memory, which the arena keeps alive.
    func borrow(_ pointer: UnsafeRawPointer, count: Int, owner: AnyObject) -> ProtobufCBinaryData {
        keepAlive.append(owner)
        return ProtobufCBinaryData(len: count, data: UnsafeMutablePointer(mutating: pointer.assumingMemoryBound(to: UInt8.self)))
    }

    /// Keeps a decoded message alive while the tree being built points into it.
    func retain(_ object: AnyObject) { keepAlive.append(object) }
}

/// Preserved bytes of ONNX messages: one byte of presence flags, then the residual message.
enum Residual {
    static let format = "onnx"

    static func make(flags: UInt8, _ residual: [UInt8]) -> Preserved? {
        flags == 0 && residual.isEmpty ? nil : Preserved(format: format, bytes: [flags] + residual)
    }

    /// Flags and residual message bytes of a Preserved produced by this format.
    static func split(_ p: Preserved?) -> (flags: UInt8, residual: [UInt8]) {
        guard let p, p.format == format, let first = p.bytes.first else { return (0, []) }
        return (first, Array(p.bytes.dropFirst()))
    }
}
