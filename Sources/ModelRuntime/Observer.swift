import ModelIR

/// Receives node outputs while a batch runs, e.g. to count zero activations (APoZ).
///
/// The interpreter calls `observe` right after a node produces an output, before the output's
/// buffer can be reused, so statistics are gathered while the data is in cache. Kernels know
/// nothing of observers. Outputs of nodes folded at plan time (constant inputs only) are not seen.
/// The interpreter asks `wantsOutput` once per output at the start of each run; a Conv →
/// BatchNormalization → Relu/Clip chain runs fused, without materialising its in-between outputs,
/// unless the observer wants one of them (then the chain runs node by node).
public protocol RuntimeObserver: AnyObject {
    /// Whether `observe` wants output `output` of `node`; asked once per output and run.
    func wantsOutput(of node: Node, named output: String) -> Bool
    /// Called with each wanted output. The tensor is only valid during the call unless copied
    /// (holding on to it is safe but keeps its buffer from being reused).
    func observe(node: Node, output: String, tensor: RuntimeTensor) throws
}

extension RuntimeObserver {
    public func wantsOutput(of node: Node, named output: String) -> Bool { true }
}
