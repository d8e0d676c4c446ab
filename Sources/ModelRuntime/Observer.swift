import ModelIR

/// Receives node outputs while a batch runs, e.g. to count zero activations (APoZ).
///
/// The interpreter asks `wantsOutput` once per output at the start of each run, and for each
/// wanted output `wantsPlaneStatistics`. A Conv → BatchNormalization → Relu/Clip chain runs fused,
/// without materialising its in-between outputs, unless the observer wants one of them (then the
/// chain runs node by node). Outputs of nodes folded at plan time (constant inputs only) are not
/// seen. Kernels know nothing of observers. With several threads, a batch of a per-sample graph
/// runs as slices (see `Interpreter.run`): each output then arrives once per slice, slices in batch
/// order, and never two calls at once.
///
/// An output is delivered in one of two ways, right after its node ran:
/// - `observe(node:output:tensor:)` hands over the whole tensor; reading it again costs a pass
///   over memory that has mostly left the cache by then.
/// - `observe(node:output:tensor:planes:)`, when the observer asked for plane statistics and the
///   operator can count: the kernel that wrote the output counted each (image, channel) plane
///   right after finishing it, while it was in cache (fused Conv chains in their epilogue,
///   Conv alone, Relu/Clip and the other unary element-wise operators plane by plane). Other
///   operators, outputs without a channel axis, and unary outputs whose planes hold fewer than 8
///   values ([N, C] after a dense layer, still in cache) fall back to `observe(node:output:tensor:)`.
public protocol RuntimeObserver: AnyObject {
    /// Whether the observer wants output `output` of `node`; asked once per output and run.
    func wantsOutput(of node: Node, named output: String) -> Bool
    /// Whether per-plane statistics of wanted output `output` (`observe(node:output:tensor:planes:)`)
    /// serve instead of scanning the tensor; asked once per wanted output and run. Default: false.
    func wantsPlaneStatistics(of node: Node, named output: String) -> Bool
    /// What the plane statistics of wanted output `output` count as `zeros` (asked with
    /// `wantsPlaneStatistics`). Default: exact zeros.
    func countedRegion(of node: Node, named output: String) -> CountedRegion
    /// Called with each wanted output that was not counted by its kernel. The tensor is only valid
    /// during the call unless copied (holding on to it is safe but keeps its buffer from being reused).
    func observe(node: Node, output: String, tensor: RuntimeTensor) throws
    /// Called instead of `observe(node:output:tensor:)` with the statistics the kernel counted:
    /// `planes[n * C + c]` covers image n, channel c of `tensor` ([N, C, …]), whose values are
    /// already final. The buffer is only valid during the call.
    func observe(node: Node, output: String, tensor: RuntimeTensor, planes: UnsafeBufferPointer<PlaneStatistics>) throws
    /// Whether `observe(node:output:tensor:planes:)` reads the tensor's values, not only its shape.
    /// Default: true. An observer that needs only the statistics (APoZ) returns false; the
    /// runtime may then hand it a tensor kept in an internal layout (only its shape means
    /// anything), sparing a conversion, and count its planes in that layout (counts exact, sums
    /// added in another order than a scan of the plain planes).
    var readsValuesWithPlaneStatistics: Bool { get }
}

extension RuntimeObserver {
    public func wantsOutput(of node: Node, named output: String) -> Bool { true }
    public func wantsPlaneStatistics(of node: Node, named output: String) -> Bool { false }
    public var readsValuesWithPlaneStatistics: Bool { true }
    public func countedRegion(of node: Node, named output: String) -> CountedRegion { .zeros }
    /// Observers that never ask for plane statistics are given the tensor.
    public func observe(node: Node, output: String, tensor: RuntimeTensor,
                        planes: UnsafeBufferPointer<PlaneStatistics>) throws {
        try observe(node: node, output: output, tensor: tensor)
    }
}
