import ModelIR

/// A pool of tensor buffers keyed by byte size. A run takes buffers for node outputs and gives
/// them back after their last consumer, so the same buffers serve the next node and the next
/// batch: after the first batch of a given shape, running more batches allocates nothing.
public final class Arena: @unchecked Sendable {
    private var free: [Int: [TensorBuffer]] = [:]
    /// Bytes of every buffer this arena has allocated (in use or free).
    public private(set) var allocatedBytes = 0
    /// Number of buffers this arena has allocated.
    public private(set) var allocatedBuffers = 0

    /// Most bytes this arena may allocate in all (nil: no limit); `ExecContext` refuses a tensor
    /// that would pass it, before allocating.
    let byteLimit: Int?
    /// New buffers have their pages filled in when mapped (see `TensorBuffer`): for an arena that
    /// keeps its buffers from batch to batch. A short-lived one leaves them to malloc.
    let populated: Bool

    public init(populated: Bool = false) {
        byteLimit = nil
        self.populated = populated
    }

    init(byteLimit: Int) {
        self.byteLimit = byteLimit
        populated = false
    }

    /// The budget of constant folding: 64 MiB plus 8 times the bytes of the model's weights.
    static func foldingLimit(weightBytes: Int) -> Int {
        (64 << 20) + 8 * max(0, min(weightBytes, 1 << 50))
    }

    /// Throws when `byteCount` more bytes would pass `byteLimit`.
    func checkBudget(_ byteCount: Int, shape: [Int]) throws {
        guard let byteLimit, byteCount > byteLimit - allocatedBytes else { return }
        throw ModelError("a constant computation of shape \(shape) would take \(byteCount) bytes, past the \(byteLimit) bytes allowed for folding constants in this model (64 MiB + 8 × its weights)")
    }

    /// A buffer of exactly `byteCount` bytes, reused when one is free. Contents are undefined.
    func take(byteCount: Int) -> TensorBuffer {
        if var list = free[byteCount], let b = list.popLast() {
            free[byteCount] = list
            return b
        }
        allocatedBytes += byteCount
        allocatedBuffers += 1
        return TensorBuffer(byteCount: byteCount, pages: populated ? .populated : .allocated)
    }

    /// Returns a buffer for reuse. The caller must hold the only reference. A view of other
    /// memory (an input's rows, a borrowed batch) is not the arena's and is left alone.
    func give(_ buffer: TensorBuffer) {
        guard !buffer.isView else { return }
        free[buffer.byteCount, default: []].append(buffer)
    }

    /// Drops every free buffer (buffers in use are unaffected).
    public func trim() {
        for list in free.values { for b in list { allocatedBytes -= b.byteCount; allocatedBuffers -= 1 } }
        free = [:]
    }
}

/// What an operator needs while running: where to get output buffers, how many threads to use,
/// and where to count its output's planes when an observer wants their statistics.
struct ExecContext {
    let arena: Arena
    let threads: Int
    /// Set by the interpreter for a step with one output whose plane statistics are wanted. An
    /// operator that can count while it writes (see `PlaneStatisticsSink`) claims it with its
    /// output's shape and passes the sink to its kernel; others leave it alone, and the interpreter
    /// then scans the output instead. Only the step's own output may claim it, never a temporary.
    var statistics: PlaneStatisticsTable? = nil
    /// Set by the interpreter when every reader of the step's output accepts the channel-blocked
    /// layout: a Conv that can write it then does (see `BlockedLayout`).
    var blockedOutput = false
    /// False when the interpreter keeps every tensor plain (`Interpreter.blockedLayout`): no
    /// operator then reorders an input into the blocked layout for its kernel either.
    var blockedLayout = true

    /// A new float32 tensor from the arena, contents undefined.
    func floats(_ shape: [Int]) throws -> RuntimeTensor {
        let n = try RuntimeTensor.elementCount(shape)
        try arena.checkBudget(n * 4, shape: shape)
        return RuntimeTensor(shape: shape, elementType: .float32, buffer: arena.take(byteCount: n * 4))
    }

    /// A new blocked float32 tensor of logical shape `shape` ([N, C, H, W]) from the arena,
    /// stored in whole blocks of channels (the last one padded when C is not a multiple of 16),
    /// contents undefined.
    func blockedFloats(_ shape: [Int]) throws -> RuntimeTensor {
        precondition(shape.count == 4)
        let n = try RuntimeTensor.elementCount([shape[0], BlockedLayout.paddedChannels(shape[1]), shape[2], shape[3]])
        try arena.checkBudget(n * 4, shape: shape)
        var t = RuntimeTensor(shape: shape, elementType: .float32, buffer: arena.take(byteCount: n * 4))
        t.blocked = true
        return t
    }

    /// A new int64 tensor from the arena, contents undefined.
    func int64s(_ shape: [Int]) throws -> RuntimeTensor {
        let n = try RuntimeTensor.elementCount(shape)
        try arena.checkBudget(n * 8, shape: shape)
        return RuntimeTensor(shape: shape, elementType: .int64, buffer: arena.take(byteCount: n * 8))
    }

    func tensor(_ shape: [Int], _ type: RuntimeElementType) throws -> RuntimeTensor {
        type == .float32 ? try floats(shape) : try int64s(shape)
    }

    /// A new tensor holding `values`.
    func int64s(_ shape: [Int], _ values: [Int64]) throws -> RuntimeTensor {
        let t = try int64s(shape)
        for (k, v) in values.enumerated() { t.i[k] = v }
        return t
    }

    /// Returns a scratch tensor's buffer to the arena when nothing else refers to it.
    func recycle(_ t: consuming RuntimeTensor) {
        var b = t.buffer
        _ = consume t
        if isKnownUniquelyReferenced(&b) { arena.give(b) }
    }

    /// `t` as float32, converting int64 input into a fresh tensor.
    func asFloat(_ t: RuntimeTensor) throws -> RuntimeTensor {
        if t.elementType == .float32 { return t }
        let out = try floats(t.shape)
        for k in 0..<t.count { out.f[k] = Float(t.i[k]) }
        return out
    }
}
