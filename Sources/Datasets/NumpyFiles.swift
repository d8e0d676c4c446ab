/// Opens a `.npy` file; batches are read with `pread` straight from the file.
func openNpy(path: String) throws -> SampleSource {
    let file = try RandomAccessFile(path: path)
    let header = try NpyHeader.parse(name: path, available: file.size) { try file.bytes(at: $0, count: $1) }
    return makeNumpySource(name: path, header: header, store: FileStore(file: file, base: header.dataOffset), container: ".npy")
}

/// Opens one array of a `.npz` archive: `member` is its name with or without `.npy`, or nil for
/// the first array. Stored members are read in place with `pread`; deflated members are inflated
/// as a stream, so sequential C-order batches cost one pass and only one chunk is held at a time.
/// A deflated Fortran-order member has each batch spread over the whole member, so every batch
/// costs a full decompression pass: store such arrays uncompressed (`np.savez`) or in C order.
func openNpz(path: String, member: String?) throws -> SampleSource {
    let file = try RandomAccessFile(path: path)
    let directory = try ZipDirectory(file: file, name: path)
    let arrays = directory.entries.filter { $0.name.hasSuffix(".npy") }
    let arrayNames = arrays.map { String($0.name.dropLast(4)) }
    let chosen: ZipDirectory.Entry
    if let member {
        guard let entry = arrays.first(where: { $0.name == member || $0.name == member + ".npy" }) else {
            throw DatasetError(path, "has no array '\(member)' (arrays: \(arrayNames.joined(separator: ", ")))")
        }
        chosen = entry
    } else {
        guard let first = arrays.first else { throw DatasetError(path, "holds no .npy arrays") }
        chosen = first
    }
    let name = "\(path):\(chosen.name.dropLast(4))"
    guard chosen.flags & 1 == 0 else { throw DatasetError(name, "is encrypted") }
    let start = try ZipDirectory.dataOffset(of: chosen, in: file, name: path)
    switch chosen.method {
    case 0:
        guard chosen.uncompressedSize == chosen.compressedSize else { throw DatasetError(name, "is a stored member whose sizes disagree") }
        let header = try NpyHeader.parse(name: name, available: chosen.uncompressedSize) { offset, count in
            try file.bytes(at: start + offset, count: count)
        }
        return makeNumpySource(name: name, header: header, store: FileStore(file: file, base: start + header.dataOffset), container: ".npz member")
    case 8:
        // Deflate never expands more than about 1032:1, so a larger claim is a lie.
        guard chosen.uncompressedSize <= chosen.compressedSize * 1032 + 1024 else {
            throw DatasetError(name, "claims \(chosen.uncompressedSize) bytes from \(chosen.compressedSize) deflated bytes, which deflate cannot produce")
        }
        let stream = try InflateStream(name: name, file: file, start: start, compressedSize: chosen.compressedSize)
        let headerStore = SequentialStore(stream: stream)
        let header = try NpyHeader.parse(name: name, available: chosen.uncompressedSize) { offset, count in
            try headerStore.bytes(at: offset, count: count)
        }
        try stream.rewind()
        let store = SequentialStore(stream: stream, base: header.dataOffset)
        return makeNumpySource(name: name, header: header, store: store, container: ".npz member (deflated)")
    default:
        throw DatasetError(name, "uses zip compression method \(chosen.method); only stored (0) and deflated (8) are supported")
    }
}

private func makeNumpySource(name: String, header: NpyHeader, store: ByteStore, container: String) -> SampleSource {
    let order = header.fortranOrder ? ", Fortran order" : ""
    return StridedArraySource(name: name, shape: header.shape, type: header.type, swapped: header.swapped,
                              fortranOrder: header.fortranOrder, store: store,
                              description: "\(header.type.rawValue) (\(header.descr)) \(container)\(order)")
}
