import ModelIR
#if canImport(Glibc)
import Glibc
#endif

/// The element types the runtime computes with: float32 for data, int64 for shapes and indices.
public enum RuntimeElementType: Sendable, Equatable, CustomStringConvertible {
    case float32
    case int64

    public var description: String { self == .float32 ? "float32" : "int64" }
}

/// A block of 64-byte aligned memory holding one tensor's elements. Buffers come from an
/// `Arena` and go back to it when the last tensor referring to them is released.
public final class TensorBuffer: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    /// Size in bytes.
    public let byteCount: Int
    /// Bytes mapped with mmap (0: allocated with malloc).
    private let mapped: Int
    /// Set for a view of memory this buffer does not own (`init(viewing:byteCount:owner:)`): it
    /// is never freed here, and an arena never takes it.
    let isView: Bool
    /// What a view's memory belongs to, kept alive as long as the view.
    fileprivate let owner: TensorBuffer?

    /// How a buffer gets its memory.
    ///
    /// Faulting a buffer's pages in one by one cost about 1.5 µs per 4 KiB page here, a third of a
    /// one-image `run` of SqueezeNet. A buffer that is written whole soon and then kept (an
    /// interpreter's arena, packed weights) is better mapped with MAP_POPULATE, which has the
    /// kernel fill its pages in one call; a short-lived one is better served by malloc, which
    /// reuses freed memory without new faults.
    enum Pages {
        /// malloc (and faults on first touch).
        case allocated
        /// Mapped with every page filled in at once.
        case populated
        /// Mapped; the writer fills pages in by `populate(_:)` as it goes, so that they do not
        /// become resident before the memory they are copied from is given back (a weight's copy).
        case populatedInPieces
    }

    /// Buffers smaller than this are always allocated with malloc.
    static let populateBytes = 256 << 10
    private static let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// A buffer of `byteCount` bytes, set to zero with `zeroed` (mapped ones already are).
    init(byteCount: Int, zeroed: Bool = false, pages: Pages = .allocated) {
        self.byteCount = byteCount
        (isView, owner) = (false, nil)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | (pages == .populated ? MAP_POPULATE : 0)
        if pages != .allocated, byteCount >= Self.populateBytes,
           let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, flags, -1, 0), p != MAP_FAILED {
            raw = p
            mapped = byteCount
        } else {
            raw = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 8), alignment: 64)
            mapped = 0
            if zeroed { raw.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount) }
        }
    }

    /// A view of `byteCount` bytes at `raw`: part of `owner`'s memory, or, without an owner,
    /// memory the caller keeps valid and unchanged for as long as the view is used.
    init(viewing raw: UnsafeMutableRawPointer, byteCount: Int, owner: TensorBuffer?) {
        (self.raw, self.byteCount, mapped) = (raw, byteCount, 0)
        (isView, self.owner) = (true, owner)
    }

    deinit {
        if isView { return }
        if mapped > 0 { munmap(raw, mapped) } else { raw.deallocate() }
    }

    /// Fills in the pages of `range` (bytes) of a mapped buffer in one call; nothing otherwise, or
    /// where the kernel lacks MADV_POPULATE_WRITE (before Linux 5.14: the writes fault them in).
    func populate(_ range: Range<Int>) {
        guard mapped > 0, !range.isEmpty else { return }
        let page = Self.pageBytes
        let start = range.lowerBound / page * page, end = min(mapped, (range.upperBound + page - 1) / page * page)
        _ = madvise(raw + start, end - start, MADV_POPULATE_WRITE)
    }

    /// Mapped rather than allocated with malloc.
    var isMapped: Bool { mapped > 0 }

    /// The bytes as float32 elements.
    var floats: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
}

/// A dense tensor at run time: a shape and contiguous row-major float32 or int64 storage.
///
/// Tensors are immutable once produced; several tensors may share one buffer (a Reshape's output
/// shares its input's storage).
public struct RuntimeTensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let elementType: RuntimeElementType
    var buffer: TensorBuffer
    /// The storage is channel-blocked (see `BlockedLayout`): a float32 [N, C, H, W] tensor stored
    /// as [N, ⌈C/16⌉, H, W, 16] (a padded last block when C is not a multiple of 16). Only the
    /// interpreter and the operators that accept it ever see such a tensor; `shape` stays the
    /// logical NCHW shape.
    var blocked = false

    init(shape: [Int], elementType: RuntimeElementType, buffer: TensorBuffer) {
        self.shape = shape
        self.elementType = elementType
        self.buffer = buffer
    }

    /// A float32 tensor holding a copy of `values`; `values.count` must equal the shape's product.
    public init(shape: [Int], floats values: [Float]) throws {
        self = try values.withUnsafeBufferPointer { try RuntimeTensor(shape: shape, copying: $0) }
    }

    /// A float32 tensor that reads `values` where they are, without a copy: the caller keeps them
    /// valid and unchanged while the tensor, or any tensor computed from it, is in use. An
    /// interpreter's output may share its storage (an Identity or Reshape of an input:
    /// `sharesStorage(with:)`). Used for a data-set batch, which is read again by nothing else.
    public init(shape: [Int], borrowing values: UnsafeBufferPointer<Float>) throws {
        let count = try RuntimeTensor.elementCount(shape)
        guard values.count == count else {
            throw ModelError("tensor of shape \(shape) needs \(count) values, got \(values.count)")
        }
        guard let base = values.baseAddress, count > 0 else {
            self = try RuntimeTensor(shape: shape, copying: values)
            return
        }
        self.init(shape: shape, elementType: .float32,
                  buffer: TensorBuffer(viewing: UnsafeMutableRawPointer(mutating: base), byteCount: count * 4, owner: nil))
    }

    /// A float32 tensor holding a copy of the floats at `values` (e.g. a data-set batch buffer),
    /// copied once; `values.count` must equal the shape's product.
    public init(shape: [Int], copying values: UnsafeBufferPointer<Float>) throws {
        let count = try RuntimeTensor.elementCount(shape)
        guard values.count == count else {
            throw ModelError("tensor of shape \(shape) needs \(count) values, got \(values.count)")
        }
        buffer = TensorBuffer(byteCount: count * 4)
        self.shape = shape
        elementType = .float32
        if count > 0, let base = values.baseAddress { buffer.raw.copyMemory(from: base, byteCount: count * 4) }
    }

    /// An int64 tensor holding a copy of `values`.
    public init(shape: [Int], int64s values: [Int64]) throws {
        let count = try RuntimeTensor.elementCount(shape)
        guard values.count == count else {
            throw ModelError("tensor of shape \(shape) needs \(count) values, got \(values.count)")
        }
        buffer = TensorBuffer(byteCount: count * 8)
        self.shape = shape
        elementType = .int64
        values.withUnsafeBufferPointer { buffer.raw.copyMemory(from: $0.baseAddress!, byteCount: count * 8) }
    }

    /// Converts an IR constant: integer and bool types become int64, every other numeric type
    /// float32.
    public init(_ tensor: Tensor) throws {
        try tensor.validate()
        #if _endian(little)
        // float32 bytes are the runtime's own layout: copied once, with no [Float] in between
        // (which doubled the peak memory of a model's largest weight while it was planned).
        if tensor.dataType == .float, let bytes = tensor.bytes {
            let count = try RuntimeTensor.elementCount(tensor.dims)
            let buffer = TensorBuffer(byteCount: count * 4, pages: .populatedInPieces)
            // Piece by piece, each given back to a mapped file once copied: the copy and the
            // file's pages of a 411 MB weight (VGG-16's fc6) were resident together. (Populated
            // whole at once, the copy took `trim`'s peak from 1.47× to 1.79× of VGG-16's file.)
            bytes.readOnce { offset, piece in
                guard let base = piece.baseAddress else { return }
                buffer.populate(offset..<offset + piece.count)
                (buffer.raw + offset).copyMemory(from: base, byteCount: piece.count)
            }
            self.init(shape: tensor.dims, elementType: .float32, buffer: buffer)
            return
        }
        #endif
        switch tensor.dataType {
        case .int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64, .bool:
            try self.init(shape: tensor.dims, int64s: tensor.int64s())
        default:
            try self.init(shape: tensor.dims, floats: tensor.floats())
        }
    }

    /// The IR constant holding the same values.
    public func irTensor(name: String = "") -> Tensor {
        switch elementType {
        case .float32: return Tensor(name: name, floats: floats, dims: shape)
        case .int64: return Tensor(name: name, int64s: int64s, dims: shape)
        }
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    /// The elements as float32 (int64 values are converted).
    public var floats: [Float] {
        switch elementType {
        case .float32: return Array(UnsafeBufferPointer(start: f, count: count))
        case .int64: return UnsafeBufferPointer(start: i, count: count).map { Float($0) }
        }
    }

    /// The elements as int64 (float values are truncated toward zero, saturating).
    public var int64s: [Int64] {
        switch elementType {
        case .int64: return Array(UnsafeBufferPointer(start: i, count: count))
        case .float32: return UnsafeBufferPointer(start: f, count: count).map(floatToInt64)
        }
    }

    /// Calls `body` with the float32 elements in place; the tensor must be float32.
    public func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(elementType == .float32, "withFloats on an int64 tensor")
        return try body(UnsafeBufferPointer(start: f, count: count))
    }

    /// Float32 element pointer (internal: kernels read inputs and write fresh outputs through it).
    var f: UnsafeMutablePointer<Float> { buffer.floats }
    /// Int64 element pointer.
    var i: UnsafeMutablePointer<Int64> { buffer.raw.assumingMemoryBound(to: Int64.self) }

    /// The same storage seen with another shape of the same element count.
    func reshaped(_ newShape: [Int]) -> RuntimeTensor {
        RuntimeTensor(shape: newShape, elementType: elementType, buffer: buffer)
    }

    /// Bytes per element.
    var elementSize: Int { elementType == .float32 ? 4 : 8 }

    /// Rows `range` along the first axis, in place: a view of this tensor's storage (a sample is
    /// contiguous in the plain and in the blocked layout alike).
    func rows(_ range: Range<Int>) -> RuntimeTensor {
        precondition(!blocked || !BlockedLayout.isPadded(shape), "rows of a tensor with a padded channel block")
        let row = shape.dropFirst().reduce(1, *) * elementSize
        let owner = buffer.isView ? buffer.owner : buffer
        let view = TensorBuffer(viewing: buffer.raw + range.lowerBound * row, byteCount: range.count * row, owner: owner)
        var out = RuntimeTensor(shape: [range.count] + shape.dropFirst(), elementType: elementType, buffer: view)
        out.blocked = blocked
        return out
    }

    /// `pieces` (equal in everything but the first dimension) joined along the first axis.
    static func joiningRows(_ pieces: [RuntimeTensor], _ ctx: ExecContext) throws -> RuntimeTensor {
        let first = pieces[0]
        for p in pieces where p.elementType != first.elementType || p.shape.dropFirst() != first.shape.dropFirst() {
            throw ModelError("slices have shapes \(first.shape) and \(p.shape)")
        }
        let out = try ctx.tensor([pieces.reduce(0) { $0 + $1.shape[0] }] + first.shape.dropFirst(), first.elementType)
        var at = out.buffer.raw
        for p in pieces {
            let bytes = p.count * p.elementSize
            at.copyMemory(from: p.buffer.raw, byteCount: bytes)
            at += bytes
        }
        return out
    }

    public var description: String {
        let n = count
        let head: String
        switch elementType {
        case .float32: head = UnsafeBufferPointer(start: f, count: min(n, 8)).map { "\($0)" }.joined(separator: ", ")
        case .int64: head = UnsafeBufferPointer(start: i, count: min(n, 8)).map { "\($0)" }.joined(separator: ", ")
        }
        return "\(elementType)\(shape) [\(head)\(n > 8 ? ", …" : "")]"
    }

    /// The shape's element count, refusing negative or absurd dimensions.
    static func elementCount(_ shape: [Int]) throws -> Int {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw ModelError("negative dimension in shape \(shape)") }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= 1 << 40 else { throw ModelError("shape \(shape) is too large") }
            count = p
        }
        return count
    }
}

@inline(__always)
func floatToInt64(_ v: Float) -> Int64 {
    guard v.isFinite else { return v.isNaN ? 0 : (v > 0 ? Int64.max : Int64.min) }
    return Int64(max(min(v, 9.2e18), -9.2e18))
}
