import CZlibSystem
import FileIO

/// Writes float32 arrays as an `.npz` file, as `numpy.savez` does: an uncompressed zip archive
/// with one `.npy` member per array (member `name.npy`). The file appears atomically.
public enum NpzWriter {
    /// One array of an archive: its member name (without `.npy`), shape and C-order values.
    public struct Array {
        public var name: String
        public var shape: [Int]
        public var values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            (self.name, self.shape, self.values) = (name, shape, values)
        }
    }

    public static func write(to path: String, arrays: [Array]) throws {
        var members: [(name: [UInt8], header: [UInt8], values: [Float], crc: UInt32, size: Int, offset: Int)] = []
        var offset = 0
        for a in arrays {
            guard a.values.count == a.shape.reduce(1, *) else {
                throw DatasetError(path, "array '\(a.name)' has \(a.values.count) values for shape \(formatShape(a.shape))")
            }
            let name = Swift.Array("\(a.name).npy".utf8), header = NpyWriter.header(shape: a.shape)
            let size = header.count + 4 * a.values.count
            // The classic zip format counts in 32 bits; numpy writes ZIP64 beyond that, not done here.
            guard size < 0xffff_ffff, offset < 0xffff_ffff, name.count < 0xffff else {
                throw DatasetError(path, "array '\(a.name)' is too large for an .npz written here (4 GiB per archive); use .npy outputs")
            }
            var crc = header.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
            a.values.withUnsafeBytes { raw in
                var at = 0
                while at < raw.count {
                    let n = min(raw.count - at, 1 << 30)
                    crc = UInt32(crc32(uLong(crc), raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + at, UInt32(n)))
                    at += n
                }
            }
            members.append((name, header, a.values, crc, size, offset))
            offset += 30 + name.count + size
        }
        try AtomicFile.write(to: path) { sink in
            for m in members {
                sink.write(entry(local: true, m.name, crc: m.crc, size: m.size, offset: m.offset))
                sink.write(m.header)
                m.values.withUnsafeBytes { sink.write($0) }
            }
            var directory: [UInt8] = []
            for m in members { directory += entry(local: false, m.name, crc: m.crc, size: m.size, offset: m.offset) }
            sink.write(directory)
            // End of central directory.
            var end = le32(0x0605_4b50) + le16(0) + le16(0) + le16(members.count) + le16(members.count)
            end += le32(directory.count) + le32(offset) + le16(0)
            sink.write(end)
        }
    }

    /// A local file header (`local`) or central directory entry for a stored member.
    private static func entry(local: Bool, _ name: [UInt8], crc: UInt32, size: Int, offset: Int) -> [UInt8] {
        // Version 2.0, no flags, stored, 1980-01-01 00:00.
        let common = le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(Int(crc)) + le32(size) + le32(size)
            + le16(name.count) + le16(0)
        if local { return le32(0x0403_4b50) + common + name }
        return le32(0x0201_4b50) + le16(20) + common + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + name
    }

    private static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    private static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xff) } }
}
