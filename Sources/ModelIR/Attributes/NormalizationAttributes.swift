/// BatchNormalization, with the ONNX specification's defaults.
public struct BatchNormalizationAttributes: Sendable, Equatable {
    public static let defaultEpsilon: Float = 1e-5
    public static let defaultMomentum: Float = 0.9

    public var epsilon: Float
    public var momentum: Float
    /// Statistics from the batch itself (opset 14+); inference uses the stored ones.
    public var trainingMode: Bool
    /// Before opset 9: one mean and variance per channel (true) or per element (false).
    public var spatial: Bool

    public init(_ node: Node) {
        epsilon = node.float("epsilon", default: Self.defaultEpsilon)
        momentum = node.float("momentum", default: Self.defaultMomentum)
        trainingMode = node.flag("training_mode", default: false)
        spatial = node.flag("spatial", default: true)
    }
}

/// InstanceNormalization and LayerNormalization (whose `axis` is `Node.axis(opset:)`), with the
/// ONNX specification's default.
public struct NormalizationAttributes: Sendable, Equatable {
    public static let defaultEpsilon: Float = 1e-5
    public var epsilon: Float
    public init(_ node: Node) { epsilon = node.float("epsilon", default: Self.defaultEpsilon) }
}

extension Node {
    /// An integer attribute read as a flag (non-zero is true), or `value` when absent.
    func flag(_ name: String, default value: Bool) -> Bool { self[attribute: name]?.int.map { $0 != 0 } ?? value }
}
