import CONNX
import ModelIR

/// A pass over the protobuf wire format, guided by the schema, that runs before protobuf-c
/// decodes anything. protobuf-c recurses into nested messages without a depth limit, so a
/// hostile file of deeply nested messages could overflow the stack; this scan refuses such files
/// (and the deprecated group encoding, which protobuf-c cannot decode) with a clear message.
/// Bytes fields such as raw_data are skipped in O(1), so the scan costs little on large models.
enum WireScan {
    /// The nesting limit; onnx's own Python loader stops at the same depth.
    static let maxDepth = 100

    static func check(_ data: UnsafePointer<UInt8>, count: Int, descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws {
        try scan(data, count, descriptor, depth: 1)
    }

    private static func scan(_ p: UnsafePointer<UInt8>, _ n: Int, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>?,
                             depth: Int) throws {
        guard depth <= maxDepth else {
            throw ModelError("messages nested deeper than \(maxDepth) levels; refusing to decode")
        }
        var i = 0
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < n, shift < 64 else { throw ModelError("not a valid ONNX protobuf (malformed or truncated)") }
                let b = p[i]
                i += 1
                value |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return value }
                shift += 7
            }
        }
        while i < n {
            let tag = try varint()
            let number = UInt32(truncatingIfNeeded: tag >> 3)
            switch tag & 7 {
            case 0: _ = try varint()
            case 1: i += 8
            case 5: i += 4
            case 2:
                let length = try varint()
                guard length <= UInt64(n - i) else { throw ModelError("not a valid ONNX protobuf (malformed or truncated)") }
                let len = Int(length)
                if let descriptor, let field = protobuf_c_message_descriptor_get_field(descriptor, number),
                   field.pointee.type == PROTOBUF_C_TYPE_MESSAGE, let sub = field.pointee.descriptor {
                    try scan(p + i, len, sub.assumingMemoryBound(to: ProtobufCMessageDescriptor.self), depth: depth + 1)
                }
                i += len
            case 3, 4:
                throw ModelError("field \(number) uses the deprecated protobuf group encoding, which modeltool cannot read")
            default:
                throw ModelError("not a valid ONNX protobuf (malformed or truncated)")
            }
            guard i <= n else { throw ModelError("not a valid ONNX protobuf (malformed or truncated)") }
        }
    }
}
