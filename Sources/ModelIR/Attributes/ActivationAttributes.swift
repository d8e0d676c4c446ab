/// The float parameters of the parametrised activations, with the ONNX specification's defaults.
/// Kernels, mean propagation and the Keras mapping decode them here, so that no default is
/// written twice.

/// LeakyRelu: y = x for x ≥ 0, α·x otherwise.
public struct LeakyReluAttributes: Sendable, Equatable {
    public static let defaultAlpha: Float = 0.01
    public var alpha: Float
    public init(_ node: Node) { alpha = node.float("alpha", default: Self.defaultAlpha) }
}

/// ThresholdedRelu: y = x for x > α, 0 otherwise.
public struct ThresholdedReluAttributes: Sendable, Equatable {
    public static let defaultAlpha: Float = 1
    public var alpha: Float
    public init(_ node: Node) { alpha = node.float("alpha", default: Self.defaultAlpha) }
}

/// Elu: y = x for x ≥ 0, α·(eˣ − 1) otherwise.
public struct EluAttributes: Sendable, Equatable {
    public static let defaultAlpha: Float = 1
    public var alpha: Float
    public init(_ node: Node) { alpha = node.float("alpha", default: Self.defaultAlpha) }
}

/// Selu: y = γ·x for x > 0, γ·α·(eˣ − 1) otherwise.
public struct SeluAttributes: Sendable, Equatable {
    public static let defaultAlpha: Float = 1.67326319217681884765625
    public static let defaultGamma: Float = 1.05070102214813232421875
    public var alpha: Float
    public var gamma: Float
    public init(_ node: Node) {
        alpha = node.float("alpha", default: Self.defaultAlpha)
        gamma = node.float("gamma", default: Self.defaultGamma)
    }
}

/// HardSigmoid: y = max(0, min(1, α·x + β)).
public struct HardSigmoidAttributes: Sendable, Equatable {
    public static let defaultAlpha: Float = 0.2
    public static let defaultBeta: Float = 0.5
    public var alpha: Float
    public var beta: Float
    public init(_ node: Node) {
        alpha = node.float("alpha", default: Self.defaultAlpha)
        beta = node.float("beta", default: Self.defaultBeta)
    }
}
