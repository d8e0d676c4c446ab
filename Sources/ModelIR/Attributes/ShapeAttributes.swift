/// Attributes of the shape and data-movement operators, with the ONNX specification's defaults.

/// Reshape (opset 14+): a 0 in the target shape copies the input's dimension unless `allowZero`.
public struct ReshapeAttributes: Sendable, Equatable {
    public var allowZero: Bool
    public init(_ node: Node) { allowZero = node.flag("allowzero", default: false) }
}

/// Pad: how the border is filled, and (before opset 11, when pads and value are attributes) the
/// constant.
public struct PadAttributes: Sendable, Equatable {
    public static let defaultMode = "constant"
    public static let defaultValue: Float = 0
    /// "constant", "reflect", "edge" or "wrap"; the kernel rejects what it does not know.
    public var mode: String
    public var value: Float
    public init(_ node: Node) {
        mode = node.string("mode", default: Self.defaultMode)
        value = node.float("value", default: Self.defaultValue)
    }
}

/// Shape (opset 15+): the dimensions from `start` (first by default) to `end` (last by default).
public struct ShapeAttributes: Sendable, Equatable {
    public static let defaultStart: Int64 = 0
    public var start: Int64
    public init(_ node: Node) { start = node.int("start", default: Self.defaultStart) }
}

/// Cast: the target element type's ONNX code. It is required; without it the code is 0
/// (UNDEFINED), which every stage rejects.
public struct CastAttributes: Sendable, Equatable {
    public var to: Int64
    public init(_ node: Node) { to = node.int("to", default: Int64(DataType.undefined.rawValue)) }
}
