import CONNX
import ModelIR

/// Where a tensor's elements were stored in the file, so the writer can store them the same way.
enum TensorStorageForm: UInt8 {
    case raw = 0, floatData, int32Data, int64Data, doubleData, uint64Data, stringData, none, external
}

/// Presence flags kept with a tensor's residual.
struct TensorFlags: OptionSet {
    let rawValue: UInt8
    static let dataTypeAbsent = TensorFlags(rawValue: 2)
    static let nameEmptyButPresent = TensorFlags(rawValue: 4)
}

extension ONNXDecoder {
    /// Converts a TensorProto, aliasing its data where the stored layout already is the raw one.
    /// `rawData` stands for a raw_data payload left in the mapped file.
    func tensor(_ t: UnsafeMutablePointer<Onnx__TensorProto>, rawData: TensorBytes? = nil) throws -> Tensor {
        let p = t.pointee
        let name = string(p.name)
        let rawDims = array(p.n_dims, p.dims)
        var dims: [Int] = []
        var count = 1
        for d in rawDims {
            guard d >= 0 else { throw ModelError("tensor '\(name)' has a negative dimension \(d) in \(rawDims)") }
            let (c, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, c <= 1 << 48 else { throw ModelError("tensor '\(name)' has absurd dimensions \(rawDims)") }
            count = c
            dims.append(Int(d))
        }
        guard let type = DataType(rawValue: p.data_type), type != .undefined else {
            throw ModelError("tensor '\(name)' has unknown data type \(p.data_type)")
        }

        let form: TensorStorageForm
        let storage: Tensor.Storage
        let external = p.has_data_location != 0 && p.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL
        if external {
            form = .external
            let entries = messages(p.n_external_data, p.external_data).map { (string($0.pointee.key), string($0.pointee.value)) }
            guard let need = type.byteCount(elements: count) else {
                throw ModelError("tensor '\(name)' of type \(type) cannot be stored externally")
            }
            storage = .bytes(try externalData.load(tensor: name, entries: entries, expectedBytes: need))
        } else if p.has_raw_data != 0 {
            form = .raw
            storage = .bytes(rawData ?? borrow(p.raw_data.data, p.raw_data.len))
        } else if p.n_float_data > 0 {
            form = .floatData
            guard type == .float || type == .complex64 else { throw mismatch(name, type, "float_data") }
            storage = .bytes(borrow(p.float_data, p.n_float_data * 4))
        } else if p.n_int32_data > 0 {
            form = .int32Data
            storage = .bytes(try narrowInt32(name, type, array(p.n_int32_data, p.int32_data)))
        } else if p.n_int64_data > 0 {
            form = .int64Data
            guard type == .int64 else { throw mismatch(name, type, "int64_data") }
            storage = .bytes(borrow(p.int64_data, p.n_int64_data * 8))
        } else if p.n_double_data > 0 {
            form = .doubleData
            guard type == .double || type == .complex128 else { throw mismatch(name, type, "double_data") }
            storage = .bytes(borrow(p.double_data, p.n_double_data * 8))
        } else if p.n_uint64_data > 0 {
            form = .uint64Data
            switch type {
            case .uint64: storage = .bytes(borrow(p.uint64_data, p.n_uint64_data * 8))
            case .uint32:
                let values = array(p.n_uint64_data, p.uint64_data).map { UInt32(truncatingIfNeeded: $0) }
                storage = .bytes(values.withUnsafeBytes { TensorBytes(copying: $0) })
            default: throw mismatch(name, type, "uint64_data")
            }
        } else if p.n_string_data > 0 || type == .string {
            form = p.n_string_data > 0 ? .stringData : .none
            guard type == .string else { throw mismatch(name, type, "string_data") }
            let values = p.string_data.map { s in (0..<p.n_string_data).map { bytes(s[$0]) } } ?? []
            storage = .strings(values)
        } else {
            form = .none
            storage = .bytes(TensorBytes(zeroed: 0))
        }

        var flags: TensorFlags = []
        if p.has_data_type == 0 { flags.insert(.dataTypeAbsent) }
        if p.name != nil && name.isEmpty { flags.insert(.nameEmptyButPresent) }
        let rest = residual(of: t) { m in
            m.name = nil
            m.n_dims = 0
            m.has_data_type = 0
            m.has_raw_data = 0
            m.n_float_data = 0
            m.n_int32_data = 0
            m.n_int64_data = 0
            m.n_double_data = 0
            m.n_uint64_data = 0
            m.n_string_data = 0
            m.n_external_data = 0
            m.has_data_location = 0
        }
        var preserved: Preserved? = nil
        if form != .raw || flags.rawValue != 0 || !rest.isEmpty {
            preserved = Preserved(format: Residual.format, bytes: [form.rawValue, flags.rawValue] + rest)
        }
        let tensor = Tensor(name: name, dataType: type, dims: dims, storage: storage, preserved: preserved)
        try tensor.validate()
        return tensor
    }

    func sparseTensor(_ s: UnsafeMutablePointer<Onnx__SparseTensorProto>) throws -> SparseTensor {
        guard let v = s.pointee.values, let i = s.pointee.indices else {
            throw ModelError("sparse tensor without values or indices")
        }
        let values = try tensor(v)
        let indices = try tensor(i)
        let dims = array(s.pointee.n_dims, s.pointee.dims)
        guard dims.allSatisfy({ $0 >= 0 && $0 < 1 << 48 }) else {
            throw ModelError("sparse tensor '\(values.name)' has invalid dims \(dims)")
        }
        let rest = residual(of: s) { m in
            m.values = nil
            m.indices = nil
            m.n_dims = 0
        }
        return SparseTensor(values: values, indices: indices, dims: dims.map { Int($0) },
                            preserved: Residual.make(flags: 0, rest))
    }

    private func borrow<T>(_ p: UnsafeMutablePointer<T>?, _ count: Int) -> TensorBytes {
        guard let p, count > 0 else { return TensorBytes(zeroed: 0) }
        return TensorBytes(borrowing: UnsafeRawPointer(p), count: count, owner: owner)
    }

    private func mismatch(_ name: String, _ type: DataType, _ field: String) -> ModelError {
        ModelError("tensor '\(name)' of type \(type) stores its data in \(field)")
    }

    /// int32_data holds one element per entry for 8/16-bit types (16-bit floats as bit patterns)
    /// and one packed byte per entry for sub-byte types.
    private func narrowInt32(_ name: String, _ type: DataType, _ values: [Int32]) throws -> TensorBytes {
        switch type {
        case .int32:
            return values.withUnsafeBytes { TensorBytes(copying: $0) }
        case .int16, .uint16, .float16, .bfloat16:
            let narrowed = values.map { UInt16(truncatingIfNeeded: $0) }
            return narrowed.withUnsafeBytes { TensorBytes(copying: $0) }
        case .int8, .uint8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0,
             .int4, .uint4, .float4e2m1, .int2, .uint2, .float6e2m3, .float6e3m2:
            let narrowed = values.map { UInt8(truncatingIfNeeded: $0) }
            return narrowed.withUnsafeBytes { TensorBytes(copying: $0) }
        default:
            throw mismatch(name, type, "int32_data")
        }
    }
}
