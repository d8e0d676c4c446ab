/// The Reduce operators, with the ONNX specification's defaults.
public struct ReduceAttributes: Sendable, Equatable {
    /// Reduced axes stay as dimensions of size 1.
    public var keepDims: Bool
    /// With no axes given, return the input unchanged instead of reducing every axis (from
    /// `axesInputSince`).
    public var noopWithEmptyAxes: Bool

    public init(_ node: Node) {
        keepDims = node.flag("keepdims", default: true)
        noopWithEmptyAxes = node.flag("noop_with_empty_axes", default: false)
    }

    /// The opset from which `axes` is an input instead of an attribute: 13 for ReduceSum, 18 for
    /// the other Reduce operators.
    public static func axesInputSince(_ kind: OpKind) -> Int64 { kind == .reduceSum ? 13 : 18 }
}
