/// One of `count` equal contiguous slices of the samples, **0-based**: `index` runs from 0 to
/// `count - 1`, and the last slice also takes the remainder. The CLI spells it `--shard i/n`.
public struct Shard: Equatable, Sendable {
    /// Which slice, from 0.
    public let index: Int
    /// How many slices.
    public let count: Int

    /// Creates shard `index` of `count`; throws unless `0 <= index < count`.
    public init(index: Int, count: Int) throws {
        guard count > 0, index >= 0, index < count else {
            throw DatasetError("shard \(index)/\(count)", "is out of range: shards are 0-based, so i must be in 0..<n with n > 0")
        }
        self.index = index
        self.count = count
    }

    /// Parses `i/n`, e.g. `0/4` (the first quarter) or `3/4` (the last, with any remainder).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw DatasetError("shard '\(text)'", "is not of the form i/n (0-based, e.g. 0/4)")
        }
        try self.init(index: index, count: count)
    }

    /// The sample indices of this shard among `total` samples.
    public func range(total: Int) -> Range<Int> {
        let size = total / count
        let start = index * size
        return start..<(index == count - 1 ? total : start + size)
    }
}

/// Which samples to read: the first `limit` samples (all when nil), then one shard of those.
public struct SampleSelection: Equatable, Sendable {
    /// Read only the first `limit` samples of the source.
    public var limit: Int?
    /// Read only this slice of the (limited) samples.
    public var shard: Shard?

    /// Creates a selection; the default reads every sample.
    public init(limit: Int? = nil, shard: Shard? = nil) {
        self.limit = limit
        self.shard = shard
    }

    /// The selected sample indices among `count`; `name` is used in the error for a negative limit.
    public func range(count: Int, name: String) throws -> Range<Int> {
        if let limit, limit < 0 { throw DatasetError(name, "limit must not be negative, got \(limit)") }
        let total = min(count, limit ?? count)
        return shard?.range(total: total) ?? 0..<total
    }
}

/// One batch. `values` points into the iterator's buffer and is valid only until its next
/// `next()`: copy what you need to keep.
public struct Batch {
    /// The sample indices in the source.
    public let range: Range<Int>
    /// `[samples] + model sample shape`, e.g. `[64, 1, 28, 28]`.
    public let shape: [Int]
    /// The values, in the model's layout and preprocessed.
    public let values: UnsafeBufferPointer<Float>
    /// The class labels of these samples, when the iterator was given labels.
    public let labels: [Int]?
}

/// Walks a selection in batches, reusing one buffer of `batchSize` samples throughout.
public final class BatchIterator {
    /// The reader supplying samples.
    public let reader: BatchReader
    /// Samples per batch (the last one may be shorter).
    public let batchSize: Int
    /// The sample indices this iterator covers.
    public let range: Range<Int>
    private let labels: SampleSource?
    private var position: Int
    private let buffer: UnsafeMutablePointer<Float>

    init(reader: BatchReader, batchSize: Int, range: Range<Int>, labels: SampleSource?) {
        self.reader = reader
        self.batchSize = batchSize
        self.range = range
        self.labels = labels
        position = range.lowerBound
        buffer = .allocate(capacity: max(1, min(batchSize, range.count) * reader.sampleElementCount))
    }

    deinit { buffer.deallocate() }

    /// Number of batches in a full pass.
    public var batchCount: Int { (range.count + batchSize - 1) / batchSize }

    /// Reads the next batch, or returns nil after the last one.
    public func next() throws -> Batch? {
        guard position < range.upperBound else { return nil }
        let count = min(batchSize, range.upperBound - position)
        try reader.read(start: position, count: count, into: buffer)
        let labelValues = try labels?.readLabels(start: position, count: count)
        let batch = Batch(range: position..<(position + count), shape: [count] + reader.sampleShape,
                          values: UnsafeBufferPointer(start: buffer, count: count * reader.sampleElementCount),
                          labels: labelValues)
        position += count
        return batch
    }

    /// Starts over at the first selected sample.
    public func reset() { position = range.lowerBound }
}

/// Walks the labels of a selection in the same batches as a `BatchIterator` over the samples.
public final class LabelIterator {
    /// The label source (one integer per sample).
    public let labels: SampleSource
    /// Labels per batch (the last one may be shorter).
    public let batchSize: Int
    /// The sample indices this iterator covers.
    public let range: Range<Int>
    private var position: Int

    /// Labels for `selection` of `samples`, checking there is one label per sample.
    public init(labels: SampleSource, alignedWith samples: SampleSource, batchSize: Int,
                selection: SampleSelection = SampleSelection()) throws {
        guard batchSize > 0 else { throw DatasetError(labels.name, "batch size must be positive, got \(batchSize)") }
        try checkLabels(labels, samples: samples)
        self.labels = labels
        self.batchSize = batchSize
        range = try selection.range(count: samples.count, name: samples.name)
        position = range.lowerBound
    }

    /// The next batch of labels, or nil after the last one.
    public func next() throws -> [Int]? {
        guard position < range.upperBound else { return nil }
        let count = min(batchSize, range.upperBound - position)
        defer { position += count }
        return try labels.readLabels(start: position, count: count)
    }
}
