#if canImport(Glibc)
import Glibc
#endif

/// An advisory lock on a model file that a command rewrites in place: a second modeltool rewriting
/// the same file fails at once with a clear message instead of racing the first (the atomic rename
/// already keeps the file whole; the lock keeps one run's work from being lost). Released when the
/// value is dropped. An open-file-description record lock, not flock(2): libhdf5 flocks the files
/// it opens itself, and the two kinds of lock do not interact.
public final class FileLock {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// F_OFD_SETLK (Linux 3.15), which Glibc's Swift module does not export.
    private static let setLock: Int32 = 37

    /// Locks the whole file (a write lock, or a read lock on a descriptor open only for reading);
    /// false when another process holds a conflicting lock.
    private static func tryLock(_ fd: Int32, writable: Bool) throws -> Bool {
        var lock = Glibc.flock()
        lock.l_type = Int16(writable ? F_WRLCK : F_RDLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, setLock, &lock) == 0 else {
            if errno == EAGAIN || errno == EACCES { return false }
            throw FileError("cannot be locked: \(String(cString: strerror(errno)))")
        }
        return true
    }

    /// Locks the existing file at `path` for rewriting, then removes temporary files that a killed
    /// run left beside it (every writer of `path` holds this lock, so none is in use). Returns nil
    /// when there is no file yet.
    public static func forRewriting(_ path: String) throws -> FileLock? {
        // The holder renames a new file over the path; whoever locked the old one tries again.
        for _ in 0..<10 {
            // A write lock needs a descriptor open for writing; a read-only file is not rewritten anyway.
            var fd = open(path, O_RDWR | O_CLOEXEC)
            let writable = fd >= 0
            if !writable && (errno == EACCES || errno == EROFS) { fd = open(path, O_RDONLY | O_CLOEXEC) }
            guard fd >= 0 else {
                if errno == ENOENT { return nil }
                throw FileError("\(path): cannot be opened: \(String(cString: strerror(errno)))")
            }
            let locked: Bool
            do { locked = try tryLock(fd, writable: writable) } catch let e as FileError {
                close(fd)
                throw FileError("\(path): \(e.message)")
            }
            guard locked else {
                close(fd)
                throw FileError("\(path): another modeltool is rewriting this file; try again when it has finished")
            }
            var held = stat(), current = stat()
            if fstat(fd, &held) == 0, stat(path, &current) == 0, held.st_ino == current.st_ino, held.st_dev == current.st_dev {
                AtomicFile.removeStaleTemporaries(of: path)
                return FileLock(fd: fd)
            }
            close(fd)
        }
        throw FileError("\(path): keeps being replaced by another process; try again later")
    }
}

extension AtomicFile {
    /// Removes `.NAME.tmp-XXXXXX` (and `.NAME.data.tmp-XXXXXX`, …) files beside `path`: the
    /// temporary files of writes that were killed before their rename.
    static func removeStaleTemporaries(of path: String) {
        let dir = folder(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        guard let stream = opendir(dir) else { return }
        defer { closedir(stream) }
        var stale: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            let tail = name.utf8.suffix(11)  // ".tmp-" and mkstemp's six characters
            guard name.hasPrefix("." + base), tail.count == 11, String(decoding: tail.prefix(5), as: UTF8.self) == ".tmp-"
            else { continue }
            stale.append(dir + "/" + name)
        }
        for file in stale { unlink(file) }
    }
}
