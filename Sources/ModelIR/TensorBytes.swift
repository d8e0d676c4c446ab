/// Immutable bytes shared between tensors without copying. The memory may be owned by the tensor,
/// or borrowed from a reader's buffer (a decoded protobuf message, a mapped file) kept alive by
/// `owner`.
public final class TensorBytes: @unchecked Sendable {
    public let pointer: UnsafeRawPointer
    public let count: Int
    private let owner: AnyObject?
    private let ownsPointer: Bool

    /// Copies `source` into memory this object owns.
    public init(copying source: UnsafeRawBufferPointer) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
        if source.count > 0, let base = source.baseAddress { p.copyMemory(from: base, byteCount: source.count) }
        pointer = UnsafeRawPointer(p)
        count = source.count
        owner = nil
        ownsPointer = true
    }

    /// Takes ownership of memory allocated with `UnsafeMutableRawPointer.allocate`.
    public init(taking pointer: UnsafeMutableRawPointer, count: Int) {
        self.pointer = UnsafeRawPointer(pointer)
        self.count = count
        owner = nil
        ownsPointer = true
    }

    /// Refers to memory owned by `owner`, which is retained as long as these bytes live.
    public init(borrowing pointer: UnsafeRawPointer, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        ownsPointer = false
    }

    /// Allocates `count` zeroed bytes.
    public convenience init(zeroed count: Int) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
        self.init(taking: p, count: count)
    }

    deinit {
        if ownsPointer { UnsafeMutableRawPointer(mutating: pointer).deallocate() }
    }

    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(buffer)
    }

    public var array: [UInt8] { [UInt8](buffer) }

    /// Asks the owner of borrowed bytes to give back the memory of these bytes that it can read
    /// again later (a mapped file's resident pages); nothing happens for owned bytes. The values
    /// stay readable.
    public func releaseResidentPages() {
        (owner as? ResidentPages)?.releaseResidentPages(of: buffer)
    }

    /// Hands `body` the bytes in pieces of 4 MB, in order, and gives each piece's pages back to a
    /// mapped file once `body` has read it: for readers that touch every byte once (a copy, a
    /// hash), so that a large weight (VGG-16's fc6, 411 MB) is never resident whole beside what
    /// they make of it.
    public func readOnce(_ body: (_ offset: Int, _ piece: UnsafeRawBufferPointer) -> Void) {
        let piece = 4 << 20
        for start in stride(from: 0, to: count, by: piece) {
            let range = start..<Swift.min(count, start + piece)
            body(start, UnsafeRawBufferPointer(rebasing: buffer[range]))
            releaseResidentPages(in: range)
        }
    }

    /// The same for the bytes in `range` only (a long copy can give back what it has read).
    public func releaseResidentPages(in range: Range<Int>) {
        let r = range.clamped(to: 0..<count)
        guard !r.isEmpty else { return }
        (owner as? ResidentPages)?.releaseResidentPages(of: UnsafeRawBufferPointer(rebasing: buffer[r]))
    }
}

/// Memory that can drop its resident pages and read them again on the next access (a read-only
/// file mapping), so a run need not keep a whole model file resident once its weights are copied.
public protocol ResidentPages: AnyObject {
    /// Drops the whole pages inside `bytes` (which lie in this memory).
    func releaseResidentPages(of bytes: UnsafeRawBufferPointer)
}

extension TensorBytes: Equatable {
    public static func == (a: TensorBytes, b: TensorBytes) -> Bool {
        a === b || (a.count == b.count && memcmp(a.pointer, b.pointer, a.count) == 0)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
