/// Opens an IDX file (the MNIST format), plain or gzipped (detected by the gzip magic bytes).
///
/// Header: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
/// 0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
/// UInt32; then the data, big-endian, in C order. Gzipped files read best in order: going back
/// restarts decompression.
func openIDX(path: String) throws -> SampleSource {
    let file = try RandomAccessFile(path: path)
    let magic = try file.bytes(at: 0, count: min(2, file.size))
    let gzipped = magic == [0x1f, 0x8b]
    let stream: GzipStream? = gzipped ? try GzipStream(path: path) : nil
    let headerStore: ByteStore = stream.map { SequentialStore(stream: $0) } ?? FileStore(file: file, base: 0)
    // Deflate never expands more than about 1032:1: this bounds what a gzipped header may claim.
    let available = gzipped ? file.size.multipliedReportingOverflow(by: 1032).partialValue + 1024 : file.size

    guard available >= 4 else { throw DatasetError(path, "is too short to be an IDX file") }
    let prefix = try headerStore.bytes(at: 0, count: 4)
    let types: [UInt8: ElementType] = [0x08: .uint8, 0x09: .int8, 0x0B: .int16, 0x0C: .int32, 0x0D: .float32, 0x0E: .float64]
    guard prefix[0] == 0, prefix[1] == 0, prefix[3] > 0 else {
        throw DatasetError(path, "is not an IDX file (bad magic \(prefix.map { String($0, radix: 16) }.joined(separator: " ")))")
    }
    guard let type = types[prefix[2]] else { throw DatasetError(path, "has unknown IDX type byte 0x\(String(prefix[2], radix: 16))") }
    let rank = Int(prefix[3])
    let dataOffset = 4 + 4 * rank
    guard dataOffset <= available else { throw DatasetError(path, "is truncated inside the IDX header") }
    let dimBytes = try headerStore.bytes(at: 4, count: 4 * rank)
    let shape = (0..<rank).map { axis in
        (0..<4).reduce(0) { $0 << 8 | Int(dimBytes[4 * axis + $1]) }
    }
    guard let elements = checkedProduct(shape), elements.multipliedReportingOverflow(by: type.byteSize).overflow == false,
          elements * type.byteSize <= available - dataOffset else {
        let limit = gzipped ? "a gzip file of \(file.size) bytes can hold" : "the file holds"
        throw DatasetError(path, "header claims shape \(formatShape(shape)) \(type.rawValue) but \(limit) at most \(available - dataOffset) bytes of data")
    }
    let store: ByteStore
    if let stream {
        try stream.rewind()
        store = SequentialStore(stream: stream, base: dataOffset)
    } else {
        store = FileStore(file: file, base: dataOffset)
    }
    let bigEndianMachine = 1.bigEndian == 1
    return StridedArraySource(name: path, shape: shape, type: type, swapped: type.byteSize > 1 && !bigEndianMachine,
                              fortranOrder: false, store: store,
                              description: "\(type.rawValue) IDX\(gzipped ? " (gzip)" : "")")
}
