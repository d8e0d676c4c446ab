/// A sparse tensor in coordinate form (values + indices), as ONNX stores sparse initializers.
public struct SparseTensor: Sendable, Equatable {
    public var values: Tensor
    public var indices: Tensor
    public var dims: [Int]
    public var preserved: Preserved?

    public init(values: Tensor, indices: Tensor, dims: [Int], preserved: Preserved? = nil) {
        self.values = values
        self.indices = indices
        self.dims = dims
        self.preserved = preserved
    }

    public var name: String { values.name }
}

/// A typed attribute value. Type descriptions (TypeProto attributes) are kept in their format's
/// encoding, since no operator the runtime executes reads them.
public indirect enum AttributeValue: Sendable, Equatable {
    case float(Float)
    case int(Int64)
    case string([UInt8])
    case tensor(Tensor)
    case graph(Graph)
    case sparseTensor(SparseTensor)
    case typeProto(Preserved)
    case floats([Float])
    case ints([Int64])
    case strings([[UInt8]])
    case tensors([Tensor])
    case graphs([Graph])
    case sparseTensors([SparseTensor])
    case typeProtos([Preserved])
    /// An attribute that only refers to an attribute of the enclosing function (ref_attr_name).
    case reference(String)
}

/// A named attribute of a node.
public struct Attribute: Sendable, Equatable {
    public var name: String
    public var value: AttributeValue
    public var preserved: Preserved?

    public init(_ name: String, _ value: AttributeValue, preserved: Preserved? = nil) {
        self.name = name
        self.value = value
        self.preserved = preserved
    }

    public var int: Int64? { if case .int(let v) = value { return v }; return nil }
    public var float: Float? {
        switch value {
        case .float(let v): return v
        case .int(let v): return Float(v)
        default: return nil
        }
    }
    public var ints: [Int64]? {
        switch value {
        case .ints(let v): return v
        case .int(let v): return [v]
        default: return nil
        }
    }
    public var floats: [Float]? {
        switch value {
        case .floats(let v): return v
        case .float(let v): return [v]
        default: return nil
        }
    }
    public var string: String? { if case .string(let v) = value { return String(decoding: v, as: UTF8.self) }; return nil }
    public var strings: [String]? {
        if case .strings(let v) = value { return v.map { String(decoding: $0, as: UTF8.self) } }
        return nil
    }
    public var tensor: Tensor? { if case .tensor(let v) = value { return v }; return nil }
    public var graph: Graph? { if case .graph(let v) = value { return v }; return nil }

    /// Subgraphs held by this attribute (If/Loop/Scan bodies).
    public var subgraphs: [Graph] {
        switch value {
        case .graph(let g): return [g]
        case .graphs(let gs): return gs
        default: return []
        }
    }
}
