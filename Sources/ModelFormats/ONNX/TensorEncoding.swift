import CONNX
import ModelIR

extension ONNXEncoder {
    /// A TensorProto for `tensor`, storing its data the way the source file did. Initializers
    /// (`external: true`) may be moved to the external data file by `externalize`.
    func tensor(_ tensor: Tensor, external: Bool) throws -> UnsafeMutablePointer<Onnx__TensorProto> {
        var form = TensorStorageForm.raw
        var flags = TensorFlags()
        var rest: [UInt8] = []
        if let p = tensor.preserved, p.format == Residual.format, p.bytes.count >= 2 {
            form = TensorStorageForm(rawValue: p.bytes[0]) ?? .raw
            flags = TensorFlags(rawValue: p.bytes[1])
            rest = Array(p.bytes.dropFirst(2))
        }
        let t: UnsafeMutablePointer<Onnx__TensorProto> = arena.message { onnx__tensor_proto__init($0) }
        if !rest.isEmpty, let decoded = unpackMessage(onnx__tensor_proto__unpack, rest) {
            arena.retain(decoded)
            t.pointee = decoded.typed(Onnx__TensorProto.self).pointee
        }
        t.pointee.name = arena.cString(tensor.name, present: flags.contains(.nameEmptyButPresent))
        t.pointee.n_dims = tensor.dims.count
        t.pointee.dims = arena.buffer(tensor.dims.map { Int64($0) })
        if !flags.contains(.dataTypeAbsent) {
            t.pointee.has_data_type = 1
            t.pointee.data_type = tensor.dataType.rawValue
        }

        switch tensor.storage {
        case .strings(let values):
            if form == .stringData || !values.isEmpty {
                t.pointee.n_string_data = values.count
                t.pointee.string_data = arena.buffer(values.map { arena.binary($0) })
            }
            return t
        case .bytes(let data):
            if external, let place = try externalize?(tensor) {
                let entries = [("location", place.location), ("offset", String(place.offset)), ("length", String(place.length))]
                    .map { kv -> UnsafeMutablePointer<Onnx__StringStringEntryProto> in
                        let e: UnsafeMutablePointer<Onnx__StringStringEntryProto> = arena.message {
                            onnx__string_string_entry_proto__init($0)
                        }
                        e.pointee.key = arena.cString(kv.0)
                        e.pointee.value = arena.cString(kv.1)
                        return e
                    }
                t.pointee.n_external_data = entries.count
                t.pointee.external_data = arena.pointers(entries)
                t.pointee.has_data_location = 1
                t.pointee.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL
                return t
            }
            try store(data, of: tensor, as: form, in: t)
            return t
        }
    }

    /// Puts packed little-endian `data` into the field `form` names, converting the element width
    /// where the typed field is wider than the element (int32_data, uint64_data for uint32).
    private func store(_ data: TensorBytes, of tensor: Tensor, as form: TensorStorageForm,
                       in t: UnsafeMutablePointer<Onnx__TensorProto>) throws {
        func typed<T>(_: T.Type) -> UnsafeMutablePointer<T>? {
            guard data.count > 0 else { return nil }
            arena.retain(data)
            return UnsafeMutablePointer(mutating: data.pointer.assumingMemoryBound(to: T.self))
        }
        switch form {
        case .floatData where tensor.dataType == .float || tensor.dataType == .complex64:
            t.pointee.n_float_data = data.count / 4
            t.pointee.float_data = typed(Float.self)
        case .int64Data where tensor.dataType == .int64:
            t.pointee.n_int64_data = data.count / 8
            t.pointee.int64_data = typed(Int64.self)
        case .doubleData where tensor.dataType == .double || tensor.dataType == .complex128:
            t.pointee.n_double_data = data.count / 8
            t.pointee.double_data = typed(Double.self)
        case .uint64Data where tensor.dataType == .uint64:
            t.pointee.n_uint64_data = data.count / 8
            t.pointee.uint64_data = typed(UInt64.self)
        case .uint64Data where tensor.dataType == .uint32:
            let values = (0..<data.count / 4).map { UInt64(data.buffer.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
            t.pointee.n_uint64_data = values.count
            t.pointee.uint64_data = arena.buffer(values)
        case .int32Data:
            let values = widenedToInt32(data, tensor.dataType)
            t.pointee.n_int32_data = values.count
            t.pointee.int32_data = arena.buffer(values)
        case .none where data.count == 0:
            break
        default:
            t.pointee.has_raw_data = 1
            t.pointee.raw_data = data.count > 0 ? arena.borrow(data.pointer, count: data.count, owner: data)
                : ProtobufCBinaryData(len: 0, data: nil)
        }
    }

    /// int32_data carries 8- and 16-bit elements one per entry (signed types sign-extended) and
    /// sub-byte types one packed byte per entry.
    private func widenedToInt32(_ data: TensorBytes, _ type: DataType) -> [Int32] {
        let raw = data.buffer
        switch type {
        case .int32:
            return (0..<raw.count / 4).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self) }
        case .int16:
            return (0..<raw.count / 2).map { Int32(raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
        case .uint16, .float16, .bfloat16:
            return (0..<raw.count / 2).map { Int32(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
        case .int8:
            return raw.map { Int32(Int8(bitPattern: $0)) }
        default:
            return raw.map { Int32($0) }
        }
    }

    func sparseTensor(_ sparse: SparseTensor) throws -> UnsafeMutablePointer<Onnx__SparseTensorProto> {
        let (_, rest) = Residual.split(sparse.preserved)
        let s: UnsafeMutablePointer<Onnx__SparseTensorProto> = arena.message { onnx__sparse_tensor_proto__init($0) }
        if !rest.isEmpty, let decoded = unpackMessage(onnx__sparse_tensor_proto__unpack, rest) {
            arena.retain(decoded)
            s.pointee = decoded.typed(Onnx__SparseTensorProto.self).pointee
        }
        s.pointee.values = try tensor(sparse.values, external: false)
        s.pointee.indices = try tensor(sparse.indices, external: false)
        s.pointee.n_dims = sparse.dims.count
        s.pointee.dims = arena.buffer(sparse.dims.map { Int64($0) })
        return s
    }
}
