import CONNX
import ModelIR

#if canImport(Glibc)
import Glibc
#endif

/// The generated descriptors, taken from initialised messages: the address of the C global
/// itself is what protobuf-c compares against.
let modelDescriptor: UnsafePointer<ProtobufCMessageDescriptor> = {
    var m = Onnx__ModelProto()
    onnx__model_proto__init(&m)
    return m.base.descriptor
}()

let tensorDescriptor: UnsafePointer<ProtobufCMessageDescriptor> = {
    var t = Onnx__TensorProto()
    onnx__tensor_proto__init(&t)
    return t.base.descriptor
}()

/// Reads ONNX model files (and single TensorProto files) into the IR.
public enum ONNXReader {
    /// Protobuf cannot encode messages of 2 GiB or more.
    static let protobufLimit = Int(Int32.max)

    /// Reads and verifies a model. Errors name the file and the problem in one line.
    public static func read(path: String) throws -> Model {
        do {
            let file = try MappedFile(path: path)
            guard file.size <= protobufLimit else {
                throw ModelError("the file is \(file.size) bytes, over protobuf's 2 GB limit; store weights as external data")
            }
            return try decode(file.pointer, file.size, modelPath: path, mapped: file)
        } catch let e as ModelError {
            throw e.at(path)
        }
    }

    /// Decodes a model held in memory. External data is resolved relative to `modelPath`'s folder.
    public static func read(bytes: [UInt8], modelPath: String? = nil) throws -> Model {
        try bytes.withUnsafeBytes { try decode($0.baseAddress, $0.count, modelPath: modelPath) }
    }

    /// Decodes a model; with `mapped` (the file `data` points into), large initializer payloads
    /// stay in the mapping instead of being copied (see `LazyRawData`).
    private static func decode(_ data: UnsafeRawPointer?, _ count: Int, modelPath: String?,
                               mapped: MappedFile? = nil) throws -> Model {
        guard count > 0, let data else { throw ModelError("the file is empty, not an ONNX model") }
        let bytes = data.assumingMemoryBound(to: UInt8.self)
        try WireScan.check(bytes, count: count, descriptor: modelDescriptor)
        var initializerData: [Int: TensorBytes] = [:]
        let split = mapped == nil ? nil : LazyRawData.split(bytes, count: count)
        if let split, let mapped {
            for (index, range) in split.payloads {
                initializerData[index] = TensorBytes(borrowing: data + range.lowerBound, count: range.count, owner: mapped)
            }
        }
        let unpacked = split.map { s in
            s.message.withUnsafeBufferPointer { onnx__model_proto__unpack(nil, $0.count, $0.baseAddress) }
        } ?? onnx__model_proto__unpack(nil, count, bytes)
        guard let raw = unpacked else {
            throw ModelError("not a valid ONNX protobuf (malformed or truncated)")
        }
        let owner = raw.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { DecodedMessage($0) }
        guard raw.pointee.graph != nil else {
            throw ModelError("not an ONNX model: the protobuf has no graph")
        }
        let decoder = ONNXDecoder(owner: owner, externalData: ExternalDataReader(modelPath: modelPath),
                                  initializerData: initializerData)
        var model = try decoder.model(raw)
        do {
            try model.graph.verify()
        } catch let e as ModelError where e.message.contains("not in topological order") {
            // Some exporters list nodes out of order; onnxruntime accepts that, so do we.
            model.graph = try model.graph.topologicallySorted()
            try model.graph.verify()
        }
        return model
    }

    /// Reads a file holding one serialised TensorProto (the ONNX test-data format).
    public static func readTensor(path: String) throws -> Tensor {
        do {
            let file = try MappedFile(path: path)
            guard file.size <= protobufLimit, let base = file.pointer else {
                if file.size == 0 { return try emptyTensor() }
                throw ModelError("the file is too large for one tensor")
            }
            try WireScan.check(base.assumingMemoryBound(to: UInt8.self), count: file.size, descriptor: tensorDescriptor)
            guard let raw = onnx__tensor_proto__unpack(nil, file.size, base.assumingMemoryBound(to: UInt8.self)) else {
                throw ModelError("not a valid TensorProto (malformed or truncated)")
            }
            let owner = raw.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { DecodedMessage($0) }
            let decoder = ONNXDecoder(owner: owner, externalData: ExternalDataReader(modelPath: path))
            return try decoder.tensor(raw)
        } catch let e as ModelError {
            throw e.at(path)
        }
    }

    private static func emptyTensor() throws -> Tensor {
        throw ModelError("the file is empty")
    }
}
