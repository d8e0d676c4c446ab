#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The stored formats `openSource` recognises.
public enum DatasetFormat: String, CaseIterable, Sendable {
    /// A NumPy `.npy` array.
    case npy
    /// A zip of `.npy` arrays (`numpy.savez`), stored or deflated; pick one with `file.npz:name`.
    case npz
    /// An IDX file (MNIST), plain or gzipped.
    case idx
    /// An HDF5 file; pick a dataset with `file.h5:/group/name`.
    case hdf5

    /// Recognises a format from a file's first bytes, then (for HDF5 with a user block) its extension.
    static func detect(magic: [UInt8], path: String) -> DatasetFormat? {
        if magic.starts(with: [0x93] + Array("NUMPY".utf8)) { return .npy }
        if magic.starts(with: [0x50, 0x4b, 0x03, 0x04]) || magic.starts(with: [0x50, 0x4b, 0x05, 0x06]) { return .npz }
        if magic.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]) { return .hdf5 }
        if magic.starts(with: [0x1f, 0x8b]) { return .idx }
        if magic.count >= 4, magic[0] == 0, magic[1] == 0, magic[3] > 0 { return .idx }
        let lower = path.lowercased()
        if lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") || lower.hasSuffix(".hdf") { return .hdf5 }
        return nil
    }
}

/// Opens a stored array for batch reading, choosing the reader by the file's magic bytes.
///
/// `path` is a file, or `file:member` where member names an `.npz` array (`val.npz:x`) or an
/// HDF5 dataset (`val.h5:/test/images`). Without a member, an `.npz` gives its first array and
/// an HDF5 file its only root dataset. A folder is read as class subfolders of JPEG/PNG images
/// (`ImageFolderSource`) with `images`.
///
///     let images = try openSource(path: "t10k-images-idx3-ubyte.gz")  // 10000 samples of [28,28]
public func openSource(path: String, images: ImageFolderOptions = ImageFolderOptions()) throws -> SampleSource {
    var info = stat()
    if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
        return try ImageFolderSource(path: path, options: images)
    }
    let (file, member) = try splitMember(path)
    let probe = try RandomAccessFile(path: file)
    let magic = try probe.bytes(at: 0, count: min(8, probe.size))
    guard let format = DatasetFormat.detect(magic: magic, path: file) else {
        throw DatasetError(file, "is not a recognised dataset (expected .npy, .npz, IDX, gzipped IDX or HDF5)")
    }
    if let member, format == .npy || format == .idx {
        throw DatasetError(file, "is a single-array \(format.rawValue) file; drop the ':\(member)' suffix")
    }
    switch format {
    case .npy: return try openNpy(path: file)
    case .npz: return try openNpz(path: file, member: member)
    case .idx: return try openIDX(path: file)
    case .hdf5:
        try hdf5DatasetCheck?(file, member)
        return try HDF5Source(path: file, datasetPath: member)
    }
}

/// Runs before an HDF5 dataset is opened, with the file and the member; the CLI sets it to read
/// the dataset once in a child process first, since libhdf5 can crash on a malformed file.
nonisolated(unsafe) private var hdf5DatasetCheck: ((String, String?) throws -> Void)?

/// Sets the check that runs before every HDF5 dataset is opened (nil: none).
public func setHDF5DatasetCheck(_ check: ((String, String?) throws -> Void)?) {
    hdf5DatasetCheck = check
}

/// Splits `file:member` at the first `:` whose left side is an existing file; a path that
/// exists as given has no member.
private func splitMember(_ path: String) throws -> (String, String?) {
    func isFile(_ candidate: String) -> Bool {
        var info = stat()
        return stat(candidate, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
    if isFile(path) { return (path, nil) }
    var index = path.startIndex
    while let colon = path[index...].firstIndex(of: ":") {
        let file = String(path[..<colon])
        if isFile(file) { return (file, String(path[path.index(after: colon)...])) }
        index = path.index(after: colon)
    }
    throw DatasetError(path, "no such file")
}
