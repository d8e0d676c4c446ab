/// What the rewrite does to one node once the removed channels are known. Channel rules record
/// these while analysing; the rewrite applies them without knowing the op, so each op's
/// knowledge lives in its rule only.
enum ParameterEdit: Equatable, Sendable {
    /// Slice constant input `input` along `axis` to the kept positions of tensor `by`.
    case slice(input: Int, axis: Int, by: String)
    /// Slice a constant that broadcasts against tensor `by` (of `rank`, positions along `axis`),
    /// when its aligned dimension holds every position; a size-1 or missing dimension stays.
    case sliceBroadcast(input: Int, by: String, rank: Int, axis: Int)
    /// Set the `group` attribute to the number of kept positions of `by` (depthwise Conv).
    case setGroup(by: String)
    /// Set element `element` of the 1-D integer constant input `input` to the kept positions of
    /// `by` (Reshape shapes, Resize sizes, the constant piece of a dynamic shape Concat).
    case patchElement(input: Int, element: Int, by: String)
    /// Give Split explicit sizes: the kept positions of each output.
    case splitSizes
    /// Fold the mean of input 0's removed positions into the node's bias.
    case compensate(Compensation)
}

/// How a consumer's bias absorbs a removed input channel's mean.
enum Compensation: Equatable, Sendable {
    /// Conv: b[o] += Σ_c mean_c · Σ_k W[o, c, k].
    case conv
    /// ConvTranspose: b[o] += Σ_c mean_c · Σ_k W[c, o, k].
    case convTranspose
    /// Gemm: C[n] += alpha · Σ_k mean_k · B[k, n] (C is created when absent).
    case gemm
    /// MatMul: an Add with Σ_k mean_k · B[k, n] after it.
    case matMul
}
