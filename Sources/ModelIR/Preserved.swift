/// Fields of a file format that the IR does not model, carried through unchanged so that a round
/// trip loses nothing. `bytes` is the format's own encoding (for ONNX: the original protobuf
/// message with the fields the IR models cleared); only the format's writer reads it.
public struct Preserved: Hashable, Sendable {
    public var format: String
    public var bytes: [UInt8]

    public init(format: String, bytes: [UInt8]) {
        self.format = format
        self.bytes = bytes
    }
}
