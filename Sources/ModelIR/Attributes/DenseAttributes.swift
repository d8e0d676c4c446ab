/// Gemm: Y = α·op(A)·op(B) + β·C, op transposing when `transA`/`transB` is set, with the ONNX
/// specification's defaults.
public struct GemmAttributes: Sendable, Equatable {
    public static let defaultAlpha: Float = 1
    public static let defaultBeta: Float = 1
    /// `transA` and `transB` when the node gives none.
    public static let defaultTranspose = false

    public var alpha: Float
    public var beta: Float
    public var transA: Bool
    public var transB: Bool

    /// The node's attributes, the specification's defaults where it gives none.
    public init(_ node: Node) {
        func flag(_ name: String) -> Bool { node[attribute: name]?.int.map { $0 != 0 } ?? Self.defaultTranspose }
        alpha = node.float("alpha", default: Self.defaultAlpha)
        beta = node.float("beta", default: Self.defaultBeta)
        transA = flag("transA")
        transB = flag("transB")
    }
}
