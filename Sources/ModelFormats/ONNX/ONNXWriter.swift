import CONNX
import ModelIR

#if canImport(Glibc)
import Glibc
#endif

/// How the writer places initializer data.
public enum ExternalDataPolicy: Sendable, Equatable {
    /// Tensors that were external in the source file stay external; the rest are inline.
    case asRead
    /// Every initializer of at least `threshold` bytes goes to the data file.
    case all(threshold: Int)
    /// Everything inline (fails over protobuf's 2 GB limit).
    case none
}

/// What the writer did beyond writing the model file, for the CLI to report.
public struct ONNXWriteReport: Sendable {
    /// The external data file written, if any.
    public var externalDataPath: String?
    /// True when the model exceeded 2 GB inline and its weights were moved out automatically.
    public var externalizedAutomatically = false
    public var modelBytes = 0
    public var externalBytes = 0
}

/// Writes the IR as an ONNX file, atomically.
public enum ONNXWriter {
    /// Offsets in the external data file are aligned to this many bytes (page size, for mmap).
    public static let externalAlignment = 4096

    @discardableResult
    public static func write(_ model: Model, to path: String, externalData: ExternalDataPolicy = .asRead) throws -> ONNXWriteReport {
        try write(model, to: path, externalData: externalData, limit: ONNXReader.protobufLimit)
    }

    /// `limit` is the inline size above which weights move to external data (lowered by tests).
    static func write(_ model: Model, to path: String, externalData: ExternalDataPolicy, limit: Int) throws -> ONNXWriteReport {
        try model.graph.verify()
        var report = try write(model, path: path, policy: externalData, limit: limit)
        report.externalDataPath = report.externalBytes > 0 ? report.externalDataPath : nil
        return report
    }

    private static func write(_ model: Model, path: String, policy: ExternalDataPolicy, limit: Int) throws -> ONNXWriteReport {
        var report = ONNXWriteReport()
        // First decide placement from sizes alone, so a model over 2 GB switches to external
        // data before anything is written.
        let inlineSize = try measure(model, policy: policy)
        if inlineSize > limit && policy == .none {
            // Refused before anything is written.
            throw ModelError("\(path): the model is \(inlineSize) bytes, over protobuf's 2 GB limit")
        }
        var effective = policy
        if inlineSize > limit {
            effective = .all(threshold: 1024)
            report.externalizedAutomatically = true
        }
        let fileName = path.split(separator: "/").last.map(String.init) ?? path
        let dataName = fileName + ".data"
        let dataPath = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" + dataName : dataName
        report.externalDataPath = dataPath

        let placed = try placements(model, policy: effective)
        // Both files are written in full before either replaces anything, so a failure leaves the
        // old model and its old data file together; the data goes in first, so a model file never
        // points at data that is not there.
        var pendingData: PendingFile?
        if !placed.isEmpty {
            pendingData = try AtomicFile.prepare(to: dataPath) { sink in
                for tensor in model.graph.initializers where placed.contains(tensor.name) {
                    guard let bytes = tensor.bytes else { continue }
                    sink.pad(toMultipleOf: externalAlignment)
                    sink.write(bytes.buffer)
                }
            }
        }
        let encoder = ONNXEncoder()
        var offset = 0
        encoder.externalize = { tensor in
            guard placed.contains(tensor.name), let bytes = tensor.bytes else { return nil }
            offset = (offset + externalAlignment - 1) / externalAlignment * externalAlignment
            defer { offset += bytes.count }
            report.externalBytes += bytes.count
            return (dataName, offset, bytes.count)
        }
        let root = try encoder.model(model)
        let pendingModel = try AtomicFile.prepare(to: path) { sink in
            report.modelBytes = pack(root, into: sink)
        }
        try pendingData?.commit()
        try pendingModel.commit()
        return report
    }

    /// Names of the initializers the policy sends to the data file.
    private static func placements(_ model: Model, policy: ExternalDataPolicy) throws -> Set<String> {
        var names = Set<String>()
        for t in model.graph.initializers {
            guard let bytes = t.bytes else { continue }
            switch policy {
            case .none: break
            case .all(let threshold): if bytes.count >= threshold { names.insert(t.name) }
            case .asRead:
                if let p = t.preserved, p.format == Residual.format, p.bytes.first == TensorStorageForm.external.rawValue {
                    names.insert(t.name)
                }
            }
        }
        return names
    }

    /// The size the model file would have with the given policy.
    private static func measure(_ model: Model, policy: ExternalDataPolicy) throws -> Int {
        let placed = try placements(model, policy: policy)
        let encoder = ONNXEncoder()
        encoder.externalize = { tensor in
            placed.contains(tensor.name) ? ("x", 0, tensor.bytes?.count ?? 0) : nil
        }
        return packedSize(try encoder.model(model))
    }

    /// Serialises into bytes in memory (for tests and small models).
    public static func serialize(_ model: Model) throws -> [UInt8] {
        let encoder = ONNXEncoder()
        let root = try encoder.model(model)
        return packMessage(root)
    }

    /// Streams the packed message into `sink` without building the whole file in memory.
    private static func pack(_ root: UnsafeMutablePointer<Onnx__ModelProto>, into sink: FileSink) -> Int {
        // A ProtobufCBuffer whose append callback finds the sink in the word stored right after it.
        let layout = MemoryLayout<ProtobufCBuffer>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: layout + MemoryLayout<UnsafeRawPointer>.stride, alignment: 16)
        defer { raw.deallocate() }
        let buffer = raw.bindMemory(to: ProtobufCBuffer.self, capacity: 1)
        buffer.pointee.append = { buf, len, data in
            guard let buf, let data else { return }
            let context = UnsafeMutableRawPointer(buf).load(fromByteOffset: MemoryLayout<ProtobufCBuffer>.stride, as: UnsafeRawPointer.self)
            Unmanaged<FileSink>.fromOpaque(context).takeUnretainedValue().write(UnsafeRawBufferPointer(start: data, count: len))
        }
        raw.storeBytes(of: UnsafeRawPointer(Unmanaged.passUnretained(sink).toOpaque()), toByteOffset: layout, as: UnsafeRawPointer.self)
        return root.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) {
            protobuf_c_message_pack_to_buffer($0, buffer)
        }
    }
}
