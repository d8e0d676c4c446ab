import CBLAS
import ModelIR

/// One node's planned operator, run on its own: the training pass runs a graph node by node with
/// the inference kernels, keeping every output for the backward pass.
public struct NodeKernel {
    private let run: OperatorFunction

    /// Plans `node` for the default-domain `opset`; throws when no kernel executes it.
    public init(node: Node, opset: Int) throws {
        let domain = node.isDefaultDomain ? "" : node.domain
        guard let entry = KernelRegistry.entry(domain: domain, opType: node.opType, opset: opset) else {
            throw ModelError("no kernel for \(node.opType) at opset \(opset)").at("node '\(node.displayName)'")
        }
        run = try entry.make(node, opset)
    }

    /// The node's outputs for `inputs` (nil for omitted optional ones), in the plain layout, with
    /// buffers from `arena`.
    public func callAsFunction(_ inputs: [RuntimeTensor?], arena: Arena, threads: Int) throws -> [RuntimeTensor] {
        try run(inputs, ExecContext(arena: arena, threads: max(1, threads)))
    }
}

extension RuntimeTensor {
    /// A new float32 tensor of `shape` filled with `value`.
    public static func filled(_ shape: [Int], _ value: Float = 0, arena: Arena? = nil) throws -> RuntimeTensor {
        let t = try uninitialized(shape, arena: arena)
        t.f.initialize(repeating: value, count: t.count)
        return t
    }

    /// A new float32 tensor of `shape` whose contents are undefined: the caller writes every element
    /// through `floatPointer` before anyone else reads it.
    public static func uninitialized(_ shape: [Int], arena: Arena? = nil) throws -> RuntimeTensor {
        let n = try elementCount(shape)
        let buffer = arena?.take(byteCount: n * 4) ?? TensorBuffer(byteCount: n * 4)
        return RuntimeTensor(shape: shape, elementType: .float32, buffer: buffer)
    }

    /// The float32 storage. Tensors are shared once handed on: write only into a tensor just made
    /// by `uninitialized`/`filled` (or one nothing else holds).
    public var floatPointer: UnsafeMutablePointer<Float> {
        precondition(elementType == .float32 && !blocked, "floatPointer on an int64 or blocked tensor")
        return f
    }

    /// The same storage seen with another shape of the same element count.
    public func viewed(as newShape: [Int]) throws -> RuntimeTensor {
        guard try RuntimeTensor.elementCount(newShape) == count else {
            throw ModelError("cannot view \(shape) as \(newShape)")
        }
        return reshaped(newShape)
    }

    /// Whether two tensors share their storage.
    public func sharesStorage(with other: RuntimeTensor) -> Bool { buffer === other.buffer }
}

extension Arena {
    /// Takes `tensor`'s buffer back for reuse when nothing else refers to it.
    public func reclaim(_ tensor: consuming RuntimeTensor) {
        var b = tensor.buffer
        _ = consume tensor
        if isKnownUniquelyReferenced(&b) { give(b) }
    }
}

/// The runtime's threaded building blocks, for the training pass's own kernels.
public enum RuntimeParallel {
    /// Limits OpenBLAS to the calling thread and stops its helper threads, as the interpreter
    /// does: the training pass splits its GEMMs over the runtime's threads itself, and OpenBLAS's
    /// own pool would spin (sched_yield) beside them, a third of a LeNet step's time.
    public static func singleThreadedBLAS() {
        Interpreter.singleThreadedBLAS
    }

    /// C (m×n) = alpha · op(A) · op(B) + beta · C, row-major, split over `threads`.
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                             _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                             _ c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        ModelRuntime.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
                           beta: beta, c, ldc: ldc, threads: threads)
    }

    /// Runs `body` over contiguous ranges of `0..<count`, on up to `threads` threads when the work
    /// (`count × cost` element operations) is worth splitting.
    public static func chunks(_ count: Int, threads: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelChunks(count, threads: threads, cost: cost, body)
    }

    /// Runs `body(worker, range)` for `workers` contiguous slices of `0..<count`, one per thread.
    public static func workers(_ count: Int, workers: Int, _ body: (Int, Range<Int>) -> Void) {
        parallelWorkers(count, workers: workers, body)
    }
}

extension RuntimeParallel {
    /// The elements `values[Σ index[d]·strides[d]]` for every index of `shape`, in row-major order
    /// (strides 0 broadcast): the runtime's strided walk, for the trainer's index maps.
    public static func stridedGather(_ values: [Int], strides: [Int], shape: [Int]) -> [Int] {
        var out = [Int](repeating: 0, count: shape.reduce(1, *))
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                stridedCopy(s, base: 0, strides: strides, shape: shape, d)
            }
        }
        return out
    }
}
