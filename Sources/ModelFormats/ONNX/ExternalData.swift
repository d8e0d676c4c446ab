import ModelIR

#if canImport(Glibc)
import Glibc
#endif

/// A file mapped read-only into memory; tensors borrow slices of it.
final class MappedFile: @unchecked Sendable, ResidentPages {
    let pointer: UnsafeRawPointer?
    let size: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelError("cannot stat '\(path)'") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelError("'\(path)' is not a regular file") }
        size = Int(st.st_size)
        if size == 0 {
            pointer = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw ModelError("cannot map '\(path)' into memory") }
        pointer = UnsafeRawPointer(p)
    }

    deinit {
        if let pointer { munmap(UnsafeMutableRawPointer(mutating: pointer), size) }
    }

    /// Drops the whole pages inside `bytes` from this process's memory; the next access reads them
    /// from the file again (the mapping is read-only and private, so nothing of ours is lost).
    func releaseResidentPages(of bytes: UnsafeRawBufferPointer) {
        guard let pointer, let base = bytes.baseAddress, base >= pointer, base + bytes.count <= pointer + size else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + bytes.count) / page * page
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(p, end - start, Int32(MADV_DONTNEED))
    }
}

/// Loads tensors stored outside the model file, confined to the model's folder: absolute paths,
/// `..` components and symlinks that lead out of the folder are refused, and every range is
/// checked against the file's real size before anything is touched.
final class ExternalDataReader {
    /// The model's folder, resolved; nil when the model did not come from a file.
    let baseDirectory: String?
    private var files: [String: MappedFile] = [:]

    init(modelPath: String?) {
        guard let modelPath else {
            baseDirectory = nil
            return
        }
        let dir = modelPath.contains("/") ? String(modelPath[..<modelPath.lastIndex(of: "/")!]) : "."
        baseDirectory = ExternalDataReader.realPath(dir.isEmpty ? "/" : dir)
    }

    static func realPath(_ path: String) -> String? {
        guard let r = realpath(path, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    func load(tensor name: String, entries: [(String, String)], expectedBytes: Int) throws -> TensorBytes {
        var location: String?
        var offset = 0
        var length: Int?
        for (key, value) in entries {
            switch key {
            case "location": location = value
            case "offset":
                guard let v = Int(value), v >= 0 else { throw ModelError("tensor '\(name)': bad external data offset '\(value)'") }
                offset = v
            case "length":
                guard let v = Int(value), v >= 0 else { throw ModelError("tensor '\(name)': bad external data length '\(value)'") }
                length = v
            default: break  // checksum and future keys are informational
            }
        }
        guard let location, !location.isEmpty else { throw ModelError("tensor '\(name)': external data has no location") }
        guard let base = baseDirectory else {
            throw ModelError("tensor '\(name)': external data '\(location)' needs the model's folder")
        }
        let path = try confinedPath(location, in: base, tensor: name)
        let file: MappedFile
        if let f = files[path] {
            file = f
        } else {
            file = try MappedFile(path: path)
            files[path] = file
        }
        let count = length ?? expectedBytes
        guard count == expectedBytes else {
            throw ModelError("tensor '\(name)': external data length \(count) but its dims need \(expectedBytes) bytes")
        }
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= file.size else {
            throw ModelError("tensor '\(name)': external data range \(offset)+\(count) runs past the end of '\(location)' (\(file.size) bytes)")
        }
        guard count > 0, let base = file.pointer else { return TensorBytes(zeroed: 0) }
        return TensorBytes(borrowing: base + offset, count: count, owner: file)
    }

    private func confinedPath(_ location: String, in base: String, tensor name: String) throws -> String {
        guard !location.hasPrefix("/") else {
            throw ModelError("tensor '\(name)': external data location '\(location)' is an absolute path")
        }
        let parts = location.split(separator: "/", omittingEmptySubsequences: true)
        guard !parts.contains("..") else {
            throw ModelError("tensor '\(name)': external data location '\(location)' leaves the model's folder")
        }
        let joined = base + "/" + location
        guard let resolved = ExternalDataReader.realPath(joined) else {
            throw ModelError("tensor '\(name)': external data file '\(location)' not found")
        }
        guard resolved.hasPrefix(base + "/") || (base == "/" && resolved.hasPrefix("/")) else {
            throw ModelError("tensor '\(name)': external data location '\(location)' resolves outside the model's folder")
        }
        return resolved
    }
}
