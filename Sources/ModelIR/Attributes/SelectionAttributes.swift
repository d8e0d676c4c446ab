/// Attributes of the selection operators (ArgMax, ArgMin, TopK), with the ONNX specification's
/// defaults. The axis is read through `Node.axis(opset:)` (`OpKind.defaultAxis`).

/// ArgMax and ArgMin.
public struct ArgReduceAttributes: Sendable, Equatable {
    /// The reduced axis stays as a dimension of size 1.
    public var keepDims: Bool
    /// Ties pick the last index instead of the first (opset 12+).
    public var selectLastIndex: Bool

    public init(_ node: Node) {
        keepDims = node.flag("keepdims", default: true)
        selectLastIndex = node.flag("select_last_index", default: false)
    }
}

/// TopK. Before opset 10, k is the attribute `k`; from 10 on it is input 1.
public struct TopKAttributes: Sendable, Equatable {
    /// The k largest (true) or smallest (false) elements (opset 11+).
    public var largest: Bool
    /// Results are in order of value (opset 11+); unsorted results are returned sorted too, which
    /// the specification allows.
    public var sorted: Bool
    /// The `k` attribute of opsets 1–9.
    public var k: Int64?

    public init(_ node: Node) {
        largest = node.flag("largest", default: true)
        sorted = node.flag("sorted", default: true)
        k = node[attribute: "k"]?.int
    }
}
