/// The central directory of a zip archive (as `numpy.savez` writes it), read just far enough to
/// find each member's data: ZIPFoundation 0.9 does not expose an entry's data offset, and its
/// push-style `extract` cannot pause between batches, so members are located and inflated here.
struct ZipDirectory {
    struct Entry {
        var name: String
        var method: UInt16
        var flags: UInt16
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    let entries: [Entry]

    init(file: RandomAccessFile, name: String) throws {
        let size = file.size
        // The end-of-central-directory record is 22 bytes plus a comment of at most 65535.
        let tailLength = min(size, 22 + 65_535)
        let tail = try file.bytes(at: size - tailLength, count: tailLength)
        guard tailLength >= 22,
              let eocd = stride(from: tailLength - 22, through: 0, by: -1).first(where: { le32(tail, $0) == 0x0605_4b50 })
        else { throw DatasetError(name, "is not a zip archive (no end-of-central-directory record)") }
        var count = Int(le16(tail, eocd + 10))
        var directorySize = Int(le32(tail, eocd + 12))
        var directoryOffset = Int(le32(tail, eocd + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: the locator sits just before the classic record and points at the ZIP64 record.
            guard eocd >= 20, le32(tail, eocd - 20) == 0x0706_4b50 else { throw DatasetError(name, "has a broken ZIP64 directory") }
            let recordOffset = Int(clamping: le64(tail, eocd - 20 + 8))
            guard recordOffset >= 0, recordOffset <= size - 56 else { throw DatasetError(name, "has a broken ZIP64 directory") }
            let record = try file.bytes(at: recordOffset, count: 56)
            guard le32(record, 0) == 0x0606_4b50 else { throw DatasetError(name, "has a broken ZIP64 directory") }
            count = Int(clamping: le64(record, 32))
            directorySize = Int(clamping: le64(record, 40))
            directoryOffset = Int(clamping: le64(record, 48))
        }
        guard directoryOffset >= 0, directorySize >= 0, directorySize <= size - directoryOffset, count <= directorySize / 46
        else { throw DatasetError(name, "has a central directory outside the file") }
        let directory = try file.bytes(at: directoryOffset, count: directorySize)
        var entries: [Entry] = []
        var at = 0
        for _ in 0..<count {
            guard at + 46 <= directory.count, le32(directory, at) == 0x0201_4b50 else {
                throw DatasetError(name, "has a corrupt central directory entry")
            }
            let nameLength = Int(le16(directory, at + 28)), extraLength = Int(le16(directory, at + 30))
            let commentLength = Int(le16(directory, at + 32))
            let end = at + 46 + nameLength + extraLength + commentLength
            guard end <= directory.count else { throw DatasetError(name, "has a corrupt central directory entry") }
            var entry = Entry(
                name: String(decoding: directory[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self),
                method: le16(directory, at + 10), flags: le16(directory, at + 8),
                compressedSize: Int(le32(directory, at + 20)), uncompressedSize: Int(le32(directory, at + 24)),
                localHeaderOffset: Int(le32(directory, at + 42)))
            // ZIP64 extra field (id 1) carries, in order, only the fields saturated above.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = le16(directory, extra), length = Int(le16(directory, extra + 2))
                var field = extra + 4
                let fieldEnd = min(field + length, extraEnd)
                if id == 1 {
                    for keyPath in [\Entry.uncompressedSize, \Entry.compressedSize, \Entry.localHeaderOffset]
                    where entry[keyPath: keyPath] == 0xFFFF_FFFF && field + 8 <= fieldEnd {
                        entry[keyPath: keyPath] = Int(clamping: le64(directory, field))
                        field += 8
                    }
                }
                extra += 4 + length
            }
            entries.append(entry)
            at = end
        }
        self.entries = entries
    }

    /// The file offset of `entry`'s data, checked to lie (with its compressed size) inside the file.
    static func dataOffset(of entry: Entry, in file: RandomAccessFile, name: String) throws -> Int {
        let header = entry.localHeaderOffset
        guard header >= 0, header <= file.size - 30 else { throw DatasetError(name, "member '\(entry.name)' lies outside the file") }
        let local = try file.bytes(at: header, count: 30)
        guard le32(local, 0) == 0x0403_4b50 else { throw DatasetError(name, "member '\(entry.name)' has a corrupt local header") }
        let start = header + 30 + Int(le16(local, 26)) + Int(le16(local, 28))
        guard entry.compressedSize >= 0, start <= file.size, entry.compressedSize <= file.size - start else {
            throw DatasetError(name, "member '\(entry.name)' is truncated: \(entry.compressedSize) bytes claimed past the end of the file")
        }
        return start
    }
}

func le16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
func le32(_ bytes: [UInt8], _ at: Int) -> UInt32 { UInt32(le16(bytes, at)) | UInt32(le16(bytes, at + 2)) << 16 }
func le64(_ bytes: [UInt8], _ at: Int) -> UInt64 { UInt64(le32(bytes, at)) | UInt64(le32(bytes, at + 4)) << 32 }
