/// Attributes of the convolution family (Conv, ConvTranspose) that every stage reads, with the
/// ONNX specification's defaults. Decode them here rather than reading the raw attribute, so that
/// no default is written twice.
public struct ConvAttributes: Sendable, Equatable {
    /// `group` when the node gives none.
    public static let defaultGroup = 1

    /// Input and output channels are split into this many groups, convolved separately.
    public var group: Int

    public init(group: Int = ConvAttributes.defaultGroup) {
        self.group = group
    }

    /// The node's attributes, the specification's defaults where it gives none.
    public init(_ node: Node) {
        self.init(group: Int(clamping: node.int("group", default: Int64(Self.defaultGroup))))
    }
}
