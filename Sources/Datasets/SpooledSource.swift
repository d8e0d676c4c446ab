#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A source read once, in order, into an unlinked temporary file of float32 samples, then read
/// in any order from there: shuffled epochs over a gzipped IDX file or a deflated .npz member
/// decompress it once, not once per batch. Memory stays one chunk, whatever the data set's size.
public final class SpooledSource: SampleSource {
    public let name: String
    public let count: Int
    public let sampleShape: [Int]
    public let elementDescription: String
    private let descriptor: Int32

    /// `source` as it is when it reads cheaply in any order, else spooled to `directory`
    /// (default: $TMPDIR or /tmp).
    public static func randomAccess(_ source: SampleSource, directory: String? = nil) throws -> SampleSource {
        source.readsInOrderOnly ? try SpooledSource(source, directory: directory) : source
    }

    public init(_ source: SampleSource, directory: String? = nil) throws {
        name = source.name
        count = source.count
        sampleShape = source.sampleShape
        elementDescription = source.elementDescription + ", spooled"
        let folder = directory ?? getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(folder)/modeltool-spool-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw DatasetError(source.name, "cannot create a temporary file in \(folder) to read it in random order")
        }
        unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        descriptor = fd
        let per = source.sampleElementCount
        let step = max(1, (1 << 20) / max(per, 1))
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: step * max(per, 1))
        defer { buffer.deallocate() }
        var done = 0
        while done < count {
            let n = min(step, count - done)
            try source.read(start: done, count: n, into: buffer)
            var written = 0
            let bytes = n * per * 4
            while written < bytes {
                let w = pwrite(fd, UnsafeRawPointer(buffer) + written, bytes - written, off_t(done * per * 4 + written))
                guard w > 0 else { throw DatasetError(source.name, "cannot write its temporary copy (disk full?)") }
                written += w
            }
            done += n
        }
    }

    deinit { close(descriptor) }

    public func read(start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws {
        try checkRange(start: start, count: count)
        let bytes = count * sampleElementCount * 4, at = start * sampleElementCount * 4
        var done = 0
        while done < bytes {
            let r = pread(descriptor, UnsafeMutableRawPointer(destination) + done, bytes - done, off_t(at + done))
            guard r > 0 else { throw DatasetError(name, "cannot read its temporary copy") }
            done += r
        }
    }
}
