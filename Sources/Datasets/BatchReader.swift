/// Reads samples of a source as the model's input wants them: converted to Float32, laid out
/// channels first, with a missing channel axis added, and preprocessed.
///
///     let source = try openSource(path: "val.npz:x")
///     let reader = try BatchReader(source: source, modelInput: [nil, 1, 28, 28], inputName: "input",
///                                  preprocessing: Preprocessing(scale: 1.0 / 255))
///     let batches = try reader.batches(batchSize: 64, selection: SampleSelection(limit: 1000))
///     while let batch = try batches.next() { run(batch.shape, batch.values) }
public final class BatchReader {
    /// How stored samples become the model's samples.
    enum Plan: Equatable {
        /// Same element order (identical shape, an added unit channel axis, or a flatten).
        case asStored
        /// `[..., C]` stored, `[C, ...]` wanted.
        case channelsLastToFirst(spatial: Int, channels: Int)
        /// `[C, H, W]` images, `[H, W, C]` wanted (a Keras model's input).
        case channelsFirstToLast(spatial: Int, channels: Int)
    }

    /// The underlying stored array.
    public let source: SampleSource
    /// The model's batch dimension when it is fixed, nil when symbolic. Not enforced here: the
    /// runtime decides whether a fixed batch of 1 may run larger batches.
    public let modelBatchSize: Int?
    /// Shape of one sample as the model receives it (the model's input shape without the batch axis).
    public let sampleShape: [Int]
    /// The conversion applied to each batch.
    public let preprocessing: Preprocessing
    let plan: Plan
    private let affine: [(Float, Float)]
    private var scratch: UnsafeMutablePointer<Float>?
    private var scratchCount = 0

    /// Checks that `source`'s samples fit `modelInput` (the model's input shape including its batch
    /// axis; nil marks a symbolic dimension) and prepares the conversion.
    /// - Throws: a one-line error naming both shapes when they do not fit.
    public init(source: SampleSource, modelInput: [Int?], inputName: String, preprocessing: Preprocessing = Preprocessing()) throws {
        guard let batchDim = modelInput.first else {
            throw DatasetError(source.name, "the model's input '\(inputName)' is a scalar; it needs a batch axis")
        }
        let wanted = Array(modelInput.dropFirst())
        let stored = source.sampleShape
        func fits(_ shape: [Int]) -> Bool {
            shape.count == wanted.count && zip(shape, wanted).allSatisfy { $1 == nil || $0 == $1 }
        }
        // The data as channels-first, before any missing channel axis is added.
        let channelsFirst: [Int]
        var plan: Plan
        let isImages = source is ImageFolderSource
        if isImages, stored.count == 3, !fits(stored), fits(Array(stored.dropFirst()) + [stored[0]]) {
            // Decoded images are channels first; a channels-last model gets them transposed.
            channelsFirst = stored
            plan = .channelsFirstToLast(spatial: stored[1] * stored[2], channels: stored[0])
        } else if preprocessing.layout == .nhwc, !isImages, stored.count >= 2, !fits([1] + stored) {
            channelsFirst = [stored.last!] + stored.dropLast()
            plan = .channelsLastToFirst(spatial: stored.dropLast().reduce(1, *), channels: stored.last!)
        } else {
            channelsFirst = stored
            plan = .asStored
        }
        let flat = channelsFirst.reduce(1, *)
        if case .channelsFirstToLast = plan {
            sampleShape = Array(stored.dropFirst()) + [stored[0]]
        } else if fits(channelsFirst) {
            sampleShape = channelsFirst
        } else if fits([1] + channelsFirst) {
            sampleShape = [1] + channelsFirst
        } else if wanted.count == 1, fits([flat]) {
            sampleShape = [flat]
        } else {
            let asRead = plan == .asStored ? "" : " (NHWC, so \(formatShape(channelsFirst)) channels first)"
            let hint = isImages ? "; image folders take their size from --resize/--crop and their channels from --color" : ""
            throw DatasetError(source.name, "samples have shape \(formatShape(stored))\(asRead) but the model's input '\(inputName)' wants \(formatShape(wanted))\(hint)")
        }
        self.source = source
        self.plan = plan
        self.preprocessing = preprocessing
        modelBatchSize = batchDim
        affine = preprocessing.isIdentity ? [] : try preprocessing.affine(channels: channelsFirst.first ?? 1, name: source.name)
    }

    deinit { scratch?.deallocate() }

    /// Floats in one model sample.
    public var sampleElementCount: Int { sampleShape.reduce(1, *) }

    /// Reads samples `start ..< start + count` into `destination` (room for
    /// `count * sampleElementCount` floats) in the model's layout, preprocessed.
    public func read(start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws {
        try convert(count: count, into: destination) { try source.read(start: start, count: count, into: $0) }
    }

    /// Reads the samples at `indices` (any order) into `destination`, as `read(start:count:into:)`
    /// does; an image folder decodes them in parallel.
    public func read(indices: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        try convert(count: indices.count, into: destination) { try source.read(indices: indices, into: $0) }
    }

    /// Fills the stored samples through `fill`, then lays them out and preprocesses them.
    private func convert(count: Int, into destination: UnsafeMutablePointer<Float>,
                         _ fill: (UnsafeMutablePointer<Float>) throws -> Void) throws {
        switch plan {
        case .asStored:
            try fill(destination)
        case .channelsLastToFirst(let spatial, let channels):
            let stored = scratchBuffer(count * spatial * channels)
            try fill(stored)
            transposeToChannelsFirst(stored, destination, samples: count, spatial: spatial, channels: channels)
        case .channelsFirstToLast(let spatial, let channels):
            let stored = scratchBuffer(count * spatial * channels)
            try fill(stored)
            // The per-channel steps run while the channels are still first.
            if !affine.isEmpty { applyAffine(stored, samples: count, inner: spatial, affine) }
            transposeToChannelsFirst(stored, destination, samples: count, spatial: channels, channels: spatial)
            return
        }
        if !affine.isEmpty {
            applyAffine(destination, samples: count, inner: sampleElementCount / affine.count, affine)
        }
    }

    /// The scratch buffer, grown to at least `needed` floats.
    private func scratchBuffer(_ needed: Int) -> UnsafeMutablePointer<Float> {
        if scratchCount < needed {
            scratch?.deallocate()
            scratch = .allocate(capacity: needed)
            scratchCount = needed
        }
        return scratch!
    }

    /// Batches of `batchSize` samples over `selection`, optionally with labels read from
    /// `labels` (one integer per sample, as many samples as `source`).
    public func batches(batchSize: Int, selection: SampleSelection = SampleSelection(), labels: SampleSource? = nil) throws -> BatchIterator {
        guard batchSize > 0 else { throw DatasetError(source.name, "batch size must be positive, got \(batchSize)") }
        let (bytes, overflow) = batchSize.multipliedReportingOverflow(by: sampleElementCount * 4)
        guard !overflow, bytes <= maxBatchBytes else {
            throw DatasetError(source.name, "a batch of \(batchSize) samples of \(formatShape(sampleShape)) needs more than \(maxBatchBytes >> 30) GiB; use a smaller batch size")
        }
        if let labels { try checkLabels(labels, samples: source) }
        return BatchIterator(reader: self, batchSize: batchSize, range: try selection.range(count: source.count, name: source.name), labels: labels)
    }
}

/// The largest batch buffer a `BatchIterator` will allocate.
let maxBatchBytes = 4 << 30

/// Throws unless `labels` holds one value per sample of `samples`.
func checkLabels(_ labels: SampleSource, samples: SampleSource) throws {
    guard labels.count == samples.count else {
        throw DatasetError(labels.name, "has \(labels.count) labels but \(samples.name) has \(samples.count) samples")
    }
    guard labels.sampleElementCount == 1 else {
        throw DatasetError(labels.name, "labels must be one value per sample, but have shape \(formatShape(labels.sampleShape))")
    }
}
