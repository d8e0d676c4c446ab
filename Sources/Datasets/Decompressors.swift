import CZlibSystem

/// A gzip file read through zlib's `gzread` (which also handles concatenated gzip members).
final class GzipStream: Decompressor {
    private let path: String
    private let handle: gzFile

    init(path: String) throws {
        self.path = path
        guard let handle = gzopen(path, "rb") else { throw DatasetError(path, "cannot open as gzip") }
        self.handle = handle
        _ = gzbuffer(handle, 1 << 17)
    }

    deinit { gzclose(handle) }

    func rewind() throws {
        guard gzrewind(handle) == 0 else { throw DatasetError(path, "cannot rewind the gzip stream") }
    }

    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws {
        var done = 0
        while done < count {
            let got = gzread(handle, buffer + done, UInt32(min(count - done, chunkBytes)))
            if got < 0 {
                var code: Int32 = 0
                let message = gzerror(handle, &code).map { String(cString: $0) } ?? "unknown error"
                throw DatasetError(path, "gzip data is corrupt (\(message))")
            }
            if got == 0 { throw DatasetError(path, "is truncated: the decompressed data ends before the header's shape is filled") }
            done += Int(got)
        }
    }
}

/// A raw-deflate byte range of a file (a deflated zip member) inflated with zlib, pull-style.
final class InflateStream: Decompressor {
    private let name: String
    private let file: RandomAccessFile
    private let start: Int
    private let compressedSize: Int
    private var consumed = 0
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private static let inputSize = 1 << 16

    /// `name` is used in messages (e.g. `val.npz:x`); the data is `compressedSize` bytes at `start`.
    init(name: String, file: RandomAccessFile, start: Int, compressedSize: Int) throws {
        self.name = name
        self.file = file
        self.start = start
        self.compressedSize = compressedSize
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(capacity: Self.inputSize)
        // -15: raw deflate, as zip stores it (no zlib or gzip wrapper).
        guard inflateInit2_(stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            input.deallocate()
            throw DatasetError(name, "cannot initialise zlib")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    func rewind() throws {
        guard inflateReset(stream) == Z_OK else { throw DatasetError(name, "cannot restart zlib") }
        consumed = 0
        stream.pointee.avail_in = 0
    }

    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws {
        stream.pointee.next_out = buffer.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = UInt32(count)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 {
                let n = min(Self.inputSize, compressedSize - consumed)
                if n > 0 {
                    try file.read(at: start + consumed, count: n, into: input)
                    consumed += n
                }
                stream.pointee.next_in = input
                stream.pointee.avail_in = UInt32(n)
            }
            let code = inflate(stream, Z_NO_FLUSH)
            if code == Z_STREAM_END && stream.pointee.avail_out > 0 {
                throw DatasetError(name, "is truncated: the deflated data ends before the header's shape is filled")
            }
            if code == Z_BUF_ERROR && stream.pointee.avail_in == 0 && consumed == compressedSize {
                throw DatasetError(name, "is truncated: the deflated data stops early")
            }
            guard code == Z_OK || code == Z_STREAM_END || code == Z_BUF_ERROR else {
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "code \(code)"
                throw DatasetError(name, "deflated data is corrupt (\(detail))")
            }
        }
    }
}
