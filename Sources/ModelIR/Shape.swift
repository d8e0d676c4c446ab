/// One dimension of a tensor shape: a number, a named symbol such as "batch", or unknown.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case fixed(Int)
    case symbol(String)
    case unknown

    public var value: Int? {
        if case .fixed(let v) = self { return v }
        return nil
    }

    public var description: String {
        switch self {
        case .fixed(let v): return String(v)
        case .symbol(let s): return s
        case .unknown: return "?"
        }
    }
}

/// A tensor shape of known rank. Unknown rank is represented by an absent Shape.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Dim]

    public init(_ dims: [Dim]) { self.dims = dims }
    public init(fixed: [Int]) { self.dims = fixed.map { .fixed($0) } }
    public init(arrayLiteral elements: Int...) { self.dims = elements.map { .fixed($0) } }

    public var rank: Int { dims.count }
    /// The concrete sizes when every dimension is a number.
    public var fixedDims: [Int]? {
        var out: [Int] = []
        out.reserveCapacity(dims.count)
        for d in dims {
            guard case .fixed(let v) = d else { return nil }
            out.append(v)
        }
        return out
    }
    /// Number of elements, or nil when a dimension is not a number.
    public var elementCount: Int? { fixedDims.map { $0.reduce(1, *) } }

    public subscript(i: Int) -> Dim {
        get { dims[i] }
        set { dims[i] = newValue }
    }

    public var description: String { "[" + dims.map(\.description).joined(separator: ",") + "]" }
}

/// The static type of a tensor value: element type and (possibly unknown) shape.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var elementType: DataType
    public var shape: Shape?

    public init(_ elementType: DataType, _ shape: Shape?) {
        self.elementType = elementType
        self.shape = shape
    }

    public var description: String { "\(elementType)\(shape?.description ?? "[?]")" }
}
