/// One contiguous byte range of a stored array and where its elements land in the output:
/// element `k` of the run goes to `destination + k * stride`.
struct Run {
    var offset: Int
    var byteCount: Int
    var destination: Int
    var stride: Int
}

/// Where an array's bytes come from. Offsets are relative to the first data byte.
protocol ByteStore: AnyObject {
    /// Delivers the bytes of each run (runs are in increasing offset order and disjoint), possibly
    /// split into element-aligned pieces: `body(runIndex, byteOffsetInRun, bytes)`.
    func visit(_ runs: [Run], _ body: (Int, Int, UnsafeRawBufferPointer) throws -> Void) throws
}

/// Largest single read or decompression step; a multiple of every element size.
let chunkBytes = 1 << 20

/// Bytes stored uncompressed in a file, starting at `base`: read with `pread`, and nearby runs
/// (gaps of at most a page) merged into one read so strided gathers stay cheap.
final class FileStore: ByteStore {
    private let file: RandomAccessFile
    private let base: Int
    private let buffer: UnsafeMutableRawPointer
    private static let maxGap = 4096

    init(file: RandomAccessFile, base: Int) {
        self.file = file
        self.base = base
        buffer = .allocate(byteCount: chunkBytes, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Reads `byteCount` bytes at `offset` straight into `destination`, for bytes that need no
    /// conversion (a batch of native float32: no copy through the chunk buffer).
    func read(offset: Int, byteCount: Int, into destination: UnsafeMutableRawPointer) throws {
        try file.read(at: base + offset, count: byteCount, into: destination)
    }

    func visit(_ runs: [Run], _ body: (Int, Int, UnsafeRawBufferPointer) throws -> Void) throws {
        var i = 0
        while i < runs.count {
            let first = runs[i]
            if first.byteCount > chunkBytes {
                var done = 0
                while done < first.byteCount {
                    let n = min(chunkBytes, first.byteCount - done)
                    try file.read(at: base + first.offset + done, count: n, into: buffer)
                    try body(i, done, UnsafeRawBufferPointer(start: buffer, count: n))
                    done += n
                }
                i += 1
                continue
            }
            // Merge following runs while they fit in one chunk and the gaps are small.
            var end = i + 1
            var upper = first.offset + first.byteCount
            while end < runs.count {
                let next = runs[end]
                let nextUpper = next.offset + next.byteCount
                guard next.offset - upper <= Self.maxGap, nextUpper - first.offset <= chunkBytes else { break }
                upper = nextUpper
                end += 1
            }
            try file.read(at: base + first.offset, count: upper - first.offset, into: buffer)
            for j in i..<end {
                let run = runs[j]
                try body(j, 0, UnsafeRawBufferPointer(start: buffer + (run.offset - first.offset), count: run.byteCount))
            }
            i = end
        }
    }
}

/// A stream of decompressed bytes that can only go forward or start over.
protocol Decompressor: AnyObject {
    /// Starts again at the first decompressed byte.
    func rewind() throws
    /// Fills `buffer` with exactly `count` next bytes, or throws (naming the file) if the data ends first.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws
}

/// Bytes behind a decompressor. Sequential batches cost one pass in total; going backwards
/// starts over; skipped bytes are decompressed into a scratch chunk and dropped.
final class SequentialStore: ByteStore {
    private let stream: Decompressor
    private let base: Int
    private var position = 0
    private let buffer: UnsafeMutableRawPointer

    /// Run offsets are taken relative to decompressed byte `base`.
    init(stream: Decompressor, base: Int = 0) {
        self.stream = stream
        self.base = base
        buffer = .allocate(byteCount: chunkBytes, alignment: 64)
    }

    deinit { buffer.deallocate() }

    func visit(_ runs: [Run], _ body: (Int, Int, UnsafeRawBufferPointer) throws -> Void) throws {
        for (index, relative) in runs.enumerated() {
            var run = relative
            run.offset += base
            if run.offset < position {
                try stream.rewind()
                position = 0
            }
            while position < run.offset {
                let n = min(chunkBytes, run.offset - position)
                try stream.read(into: buffer, count: n)
                position += n
            }
            var done = 0
            while done < run.byteCount {
                let n = min(chunkBytes, run.byteCount - done)
                try stream.read(into: buffer, count: n)
                position += n
                try body(index, done, UnsafeRawBufferPointer(start: buffer, count: n))
                done += n
            }
        }
    }
}

extension ByteStore {
    /// Reads `count` bytes at `offset` (callers bound `count` first).
    func bytes(at offset: Int, count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try visit([Run(offset: offset, byteCount: count, destination: 0, stride: 1)]) { _, done, bytes in
            for (i, byte) in bytes.enumerated() { result[done + i] = byte }
        }
        return result
    }
}
