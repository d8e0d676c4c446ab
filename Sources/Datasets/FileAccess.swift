#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file read with `pread`; closes in `deinit`.
final class RandomAccessFile {
    let path: String
    let size: Int
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DatasetError(path, "cannot open (\(String(cString: strerror(errno))))") }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw DatasetError(path, "is not a regular file")
        }
        descriptor = fd
        size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Reads exactly `count` bytes at `offset`, or throws naming the file as truncated.
    func read(at offset: Int, count: Int, into buffer: UnsafeMutableRawPointer) throws {
        var done = 0
        while done < count {
            let got = pread(descriptor, buffer + done, count - done, off_t(offset + done))
            if got < 0 {
                if errno == EINTR { continue }
                throw DatasetError(path, "read failed at byte \(offset + done) (\(String(cString: strerror(errno))))")
            }
            if got == 0 {
                throw DatasetError(path, "is truncated: needed bytes up to \(offset + count) but the file has \(size)")
            }
            done += got
        }
    }

    /// Reads exactly `count` bytes at `offset` into a new array (callers bound `count` first).
    func bytes(at offset: Int, count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try result.withUnsafeMutableBytes { try read(at: offset, count: count, into: $0.baseAddress!) }
        return result
    }
}
