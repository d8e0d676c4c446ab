/// Gemm: Y = α·op(A)·op(B) + β·C, op transposing when `transA`/`transB` is set, with the ONNX
/// specification's defaults.
public struct GemmAttributes: Sendable, Equatable {
    public static let defaultAlpha: Float = 1
    public static let defaultBeta: Float = 1
    public var alpha: Float
    public var beta: Float
    public var transA: Bool
    public var transB: Bool

    /// The node's attributes, the specification's defaults where it gives none.
    public init(_ node: Node) {
        alpha = node.float("alpha", default: Self.defaultAlpha)
        beta = node.float("beta", default: Self.defaultBeta)
        transA = node.flag("transA", default: false)
        transB = node.flag("transB", default: false)
    }
}
