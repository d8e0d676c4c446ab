/// One operator application. Inputs and outputs name values; "" marks an omitted optional input.
public struct Node: Sendable, Equatable {
    public var name: String
    public var opType: String
    /// Operator set domain as written in the file; "" and "ai.onnx" both mean the default set.
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [Attribute]
    public var preserved: Preserved?

    public init(name: String = "", opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [Attribute] = [], preserved: Preserved? = nil) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
        self.preserved = preserved
    }

    public subscript(attribute name: String) -> Attribute? {
        attributes.first { $0.name == name }
    }

    /// The attribute's integer value, or `default`.
    public func int(_ name: String, default value: Int64) -> Int64 { self[attribute: name]?.int ?? value }
    public func float(_ name: String, default value: Float) -> Float { self[attribute: name]?.float ?? value }
    public func ints(_ name: String) -> [Int64]? { self[attribute: name]?.ints }
    public func string(_ name: String, default value: String) -> String { self[attribute: name]?.string ?? value }

    /// Input `i` when present and not omitted.
    public func input(_ i: Int) -> String? {
        i < inputs.count && !inputs[i].isEmpty ? inputs[i] : nil
    }

    /// A name for messages: the node's name, or its op type and first output.
    public var displayName: String { name.isEmpty ? "\(opType)(\(outputs.first ?? "?"))" : name }
}

/// The static description of a named value: its type when known, plus format extras.
public struct ValueInfo: Sendable, Equatable {
    public enum ValueType: Sendable, Equatable {
        case tensor(TensorType)
        /// A non-tensor type (sequence, map, optional, sparse, opaque) kept in the format's encoding.
        case other(Preserved)
    }

    public var name: String
    public var type: ValueType?
    public var preserved: Preserved?

    public init(name: String, type: ValueType? = nil, preserved: Preserved? = nil) {
        self.name = name
        self.type = type
        self.preserved = preserved
    }

    public init(name: String, tensor: TensorType) {
        self.init(name: name, type: .tensor(tensor))
    }

    public var tensorType: TensorType? {
        if case .tensor(let t) = type { return t }
        return nil
    }
}
