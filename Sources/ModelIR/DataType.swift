/// Element types of tensors. Raw values are ONNX's TensorProto.DataType codes, which every format
/// maps onto.
public enum DataType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case undefined = 0
    case float = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case double = 11
    case uint32 = 12
    case uint64 = 13
    case complex64 = 14
    case complex128 = 15
    case bfloat16 = 16
    case float8e4m3fn = 17
    case float8e4m3fnuz = 18
    case float8e5m2 = 19
    case float8e5m2fnuz = 20
    case uint4 = 21
    case int4 = 22
    case float4e2m1 = 23
    case float8e8m0 = 24
    case uint2 = 25
    case int2 = 26
    case float6e2m3 = 27
    case float6e3m2 = 28

    /// Bits one element occupies when packed (raw_data layout); nil for strings and undefined.
    public var bitWidth: Int? {
        switch self {
        case .undefined, .string: return nil
        case .bool, .uint8, .int8, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0: return 8
        case .uint16, .int16, .float16, .bfloat16: return 16
        case .float, .int32, .uint32: return 32
        case .double, .int64, .uint64, .complex64: return 64
        case .complex128: return 128
        case .uint4, .int4, .float4e2m1: return 4
        case .uint2, .int2: return 2
        case .float6e2m3, .float6e3m2: return 6
        }
    }

    /// Bytes needed for `count` packed elements (sub-byte types round up to whole bytes).
    public func byteCount(elements count: Int) -> Int? {
        guard let bits = bitWidth else { return nil }
        let (total, overflow) = count.multipliedReportingOverflow(by: bits)
        return overflow ? nil : (total + 7) / 8
    }

    /// True for the types the runtime computes with after converting to Float32.
    public var isNumeric: Bool {
        switch self {
        case .undefined, .string, .complex64, .complex128: return false
        default: return true
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float, .double, .float16, .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz,
             .float8e8m0, .float4e2m1, .float6e2m3, .float6e3m2: return true
        default: return false
        }
    }

    public var description: String {
        let names = ["undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64", "string", "bool",
                     "float16", "float64", "uint32", "uint64", "complex64", "complex128", "bfloat16", "float8e4m3fn",
                     "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4", "float4e2m1", "float8e8m0",
                     "uint2", "int2", "float6e2m3", "float6e3m2"]
        return names[Int(rawValue)]
    }
}
