#if canImport(Glibc)
import Glibc
#endif

/// A buffered writer on a file descriptor that remembers the first write error instead of
/// trapping, so a full disk surfaces as one clear message.
public final class FileSink {
    private let fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private let capacity = 1 << 20
    private var used = 0
    public private(set) var written = 0
    private(set) var failure: Int32 = 0

    init(fd: Int32) {
        self.fd = fd
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit { buffer.deallocate() }

    public func write(_ data: UnsafeRawBufferPointer) {
        guard failure == 0, let base = data.baseAddress, data.count > 0 else { return }
        if used + data.count > capacity {
            flush()
            if data.count >= capacity {
                writeAll(base, data.count)
                return
            }
        }
        (buffer + used).copyMemory(from: base, byteCount: data.count)
        used += data.count
        written += data.count
    }

    public func write(_ bytes: [UInt8]) { bytes.withUnsafeBytes { write($0) } }

    /// Writes zero bytes until the file length is a multiple of `alignment`.
    public func pad(toMultipleOf alignment: Int) {
        let rest = written % alignment
        guard rest != 0 else { return }
        write([UInt8](repeating: 0, count: alignment - rest))
    }

    func flush() {
        guard used > 0 else { return }
        let n = used
        used = 0
        written -= n
        writeAll(buffer, n)
    }

    private func writeAll(_ p: UnsafeRawPointer, _ count: Int) {
        var done = 0
        while done < count && failure == 0 {
            let n = Glibc.write(fd, p + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
            } else {
                done += n
            }
        }
        written += done
    }
}

/// A failed file operation, with a one-line message naming the file.
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A file fully written and flushed under a temporary name in its target's folder, waiting to be
/// renamed over the target. Dropping it without `commit()` removes the temporary file.
public final class PendingFile {
    public let path: String
    let tempPath: String
    private var committed = false

    init(path: String, tempPath: String) {
        self.path = path
        self.tempPath = tempPath
    }

    deinit {
        if !committed { unlink(tempPath) }
    }

    /// Renames the temporary file over the target and flushes the folder.
    public func commit() throws {
        guard !committed else { return }
        guard rename(tempPath, path) == 0 else {
            throw FileError("\(path): cannot replace the file: \(String(cString: strerror(errno)))")
        }
        committed = true
        let dir = AtomicFile.folder(of: path)
        let dfd = open(dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

/// Writes files so that a failure never damages what was there: the data goes to a temporary
/// file in the same folder, is flushed to disk, and only then renamed over the target. Writers
/// of several files (a model and its external data) prepare all of them before committing any.
public enum AtomicFile {
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// Writes the whole content to a temporary file beside `path` and flushes it, without
    /// replacing `path` yet.
    public static func prepare(to path: String, _ body: (FileSink) throws -> Void) throws -> PendingFile {
        let dir = folder(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(dir)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw FileError("\(path): cannot create a temporary file in '\(dir)': \(String(cString: strerror(errno)))")
        }
        let pending = PendingFile(path: path, tempPath: String(cString: template))
        defer { close(fd) }
        let sink = FileSink(fd: fd)
        try body(sink)
        sink.flush()
        if sink.failure != 0 { throw FileError("\(path): write failed: \(String(cString: strerror(sink.failure)))") }
        guard fsync(fd) == 0 else { throw FileError("\(path): fsync failed: \(String(cString: strerror(errno)))") }
        // mkstemp creates 0600; a model file should get the usual permissions.
        let mask = umask(0)
        umask(mask)
        fchmod(fd, 0o666 & ~mask)
        return pending
    }

    /// For libraries that open files by name (libhdf5): `body` writes a complete file at the given
    /// temporary path in `path`'s folder and closes it; the file is then flushed, given the usual
    /// permissions and renamed over `path`. On failure the temporary file is removed.
    public static func replace(_ path: String, writingWith body: (_ temporaryPath: String) throws -> Void) throws {
        let dir = folder(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(dir)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw FileError("\(path): cannot create a temporary file in '\(dir)': \(String(cString: strerror(errno)))")
        }
        close(fd)
        let pending = PendingFile(path: path, tempPath: String(cString: template))
        unlink(pending.tempPath)  // the library creates the file itself, exclusively
        try body(pending.tempPath)
        let written = open(pending.tempPath, O_RDONLY)
        guard written >= 0 else { throw FileError("\(path): the temporary file was not written") }
        defer { close(written) }
        guard fsync(written) == 0 else { throw FileError("\(path): fsync failed: \(String(cString: strerror(errno)))") }
        let mask = umask(0)
        umask(mask)
        fchmod(written, 0o666 & ~mask)
        try pending.commit()
    }

    /// Writes `path` atomically: `prepare`, then `commit`.
    public static func write(to path: String, _ body: (FileSink) throws -> Void) throws {
        try prepare(to: path, body).commit()
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { $0.write(bytes) }
    }
}
