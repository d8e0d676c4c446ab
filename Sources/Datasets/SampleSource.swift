/// A stored array read a few samples (rows of the first axis) at a time, converted to Float32.
///
/// Sources are not thread-safe: use one per thread. They keep a file open until released.
public protocol SampleSource: AnyObject {
    /// Name used in messages: the path as given, e.g. `val.npz:x` or `data.h5:/test/images`.
    var name: String { get }
    /// Number of samples (the length of the first axis).
    var count: Int { get }
    /// Shape of one sample (the array's shape without its first axis).
    var sampleShape: [Int] { get }
    /// What is stored, e.g. `uint8 IDX (gzip)` or `float64 .npy, Fortran order`.
    var elementDescription: String { get }
    /// Reads samples `start ..< start + count` in C order into `destination`, which must hold
    /// `count * sampleElementCount` floats.
    func read(start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws
    /// Reads the samples at `indices` (any order, each in range) into `destination`, one after
    /// another. The default reads them one at a time.
    func read(indices: [Int], into destination: UnsafeMutablePointer<Float>) throws
    /// Whether reads are cheap only in increasing order (a compressed stream, which restarts to
    /// go back). Shuffled training reads such a source once into a `SpooledSource`.
    var readsInOrderOnly: Bool { get }
}

extension SampleSource {
    public var readsInOrderOnly: Bool { false }

    public func read(indices: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        for (k, index) in indices.enumerated() { try read(start: index, count: 1, into: destination + k * sampleElementCount) }
    }

    /// Number of elements in one sample.
    public var sampleElementCount: Int { sampleShape.reduce(1, *) }

    /// Throws unless `start ..< start + count` lies inside the source.
    func checkRange(start: Int, count: Int) throws {
        guard start >= 0, count >= 0, start <= self.count, count <= self.count - start else {
            throw DatasetError(name, "samples \(start)..<\(start + count) are out of range (the source has \(self.count))")
        }
    }

    /// Reads samples `start ..< start + count` as integer class labels: each sample must be a
    /// single integral value (shape `[]` or `[1]`), exactly representable as Float32 (|v| <= 2^24).
    public func readLabels(start: Int, count: Int) throws -> [Int] {
        guard sampleElementCount == 1 else {
            throw DatasetError(name, "labels must be one value per sample, but samples have shape \(formatShape(sampleShape))")
        }
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { try read(start: start, count: count, into: $0.baseAddress!) }
        return try values.enumerated().map { index, value in
            guard value.rounded() == value, abs(value) <= 16_777_216 else {
                throw DatasetError(name, "label \(start + index) is \(value), not an integer class index")
            }
            return Int(value)
        }
    }
}
