/// Attributes of single-input operators outside the parametrised activations, with the ONNX
/// specification's defaults: Clip (before opset 11), Gelu, Shrink, Dropout and LRN.

/// Clip before opset 11, whose bounds are attributes (from 11 on they are optional inputs).
public struct ClipAttributes: Sendable, Equatable {
    /// The bounds when the node gives none: no clamping at all.
    public static let defaultMin = -Float.greatestFiniteMagnitude
    public static let defaultMax = Float.greatestFiniteMagnitude
    public var min: Float
    public var max: Float
    public init(_ node: Node) {
        min = node.float("min", default: Self.defaultMin)
        max = node.float("max", default: Self.defaultMax)
    }
}

/// Gelu: exact (erf) or its tanh approximation.
public struct GeluAttributes: Sendable, Equatable {
    public static let defaultApproximate = "none"
    /// "none" or "tanh"; anything else is for the kernel to reject.
    public var approximate: String
    public var usesTanh: Bool { approximate == "tanh" }
    public init(_ node: Node) { approximate = node.string("approximate", default: Self.defaultApproximate) }
}

/// Shrink: y = x − bias for x > λ, x + bias for x < −λ, 0 otherwise.
public struct ShrinkAttributes: Sendable, Equatable {
    public static let defaultLambda: Float = 0.5
    public static let defaultBias: Float = 0
    public var lambda: Float
    public var bias: Float
    public init(_ node: Node) {
        lambda = node.float("lambd", default: Self.defaultLambda)
        bias = node.float("bias", default: Self.defaultBias)
    }
}

/// Dropout: its ratio is an attribute before opset 12, an optional input from then on; both
/// default to `defaultRatio`.
public struct DropoutAttributes: Sendable, Equatable {
    public static let defaultRatio: Float = 0.5
    /// The `ratio` attribute (opsets before 12), or the default.
    public var ratio: Float
    public init(_ node: Node) { ratio = node.float("ratio", default: Self.defaultRatio) }
}

/// LRN (local response normalisation across channels).
public struct LRNAttributes: Sendable, Equatable {
    public static let defaultAlpha: Float = 1e-4
    public static let defaultBeta: Float = 0.75
    public static let defaultBias: Float = 1
    /// Channels summed over; required by the specification, so nil when absent.
    public var size: Int64?
    public var alpha: Float
    public var beta: Float
    public var bias: Float
    public init(_ node: Node) {
        size = node[attribute: "size"]?.int
        alpha = node.float("alpha", default: Self.defaultAlpha)
        beta = node.float("beta", default: Self.defaultBeta)
        bias = node.float("bias", default: Self.defaultBias)
    }
}
