import FileIO

/// Writes a float32 `.npy` file (format 1.0, C order) whose rows arrive batch by batch, so outputs
/// of a whole dataset never sit in memory. The file appears atomically when `write` returns.
public enum NpyWriter {
    /// The 1.0 header for a little-endian float32 array of `shape`, padded to a multiple of 64 bytes.
    public static func header(shape: [Int]) -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var text = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        let fixed = 10  // magic (6) + version (2) + header length (2)
        let total = (fixed + text.utf8.count + 1 + 63) / 64 * 64
        text += String(repeating: " ", count: total - fixed - text.utf8.count - 1) + "\n"
        let length = UInt16(text.utf8.count)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xff), UInt8(length >> 8)] + Array(text.utf8)
    }

    /// Writes an array of `shape` to `path`; `body` is handed a function that appends float
    /// values in C order and must append exactly the shape's element count.
    public static func write(to path: String, shape: [Int], _ body: (_ append: (UnsafeBufferPointer<Float>) -> Void) throws -> Void) throws {
        let expected = shape.reduce(1, *)
        var written = 0
        try AtomicFile.write(to: path) { sink in
            sink.write(header(shape: shape))
            try body { values in
                written += values.count
                sink.write(UnsafeRawBufferPointer(values))
            }
            guard written == expected else {
                throw DatasetError(path, "wrote \(written) values but shape \(formatShape(shape)) needs \(expected)")
            }
        }
    }
}
