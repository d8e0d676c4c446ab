import Datasets
import ModelIR
import ModelRuntime

/// How samples are read and converted to a model's input: what run, eval, apoz and trim share.
public struct DataSettings: Sendable, Equatable {
    /// Samples per batch (a model with a fixed batch size uses its own).
    public var batch: Int
    /// Use only the first `limit` samples.
    public var limit: Int?
    public var preprocessing: Preprocessing
    /// Threads for all parallel work, BLAS included (nil: the number of cores).
    public var threads: Int?

    public init(batch: Int = 64, limit: Int? = nil, preprocessing: Preprocessing = Preprocessing(), threads: Int? = nil) {
        self.batch = batch
        self.limit = limit
        self.preprocessing = preprocessing
        self.threads = threads
    }
}

extension DataSettings {
    /// The image-folder options with the decoding threads taken from `threads`.
    var imageOptions: ImageFolderOptions {
        var options = preprocessing.images
        options.threads = options.threads ?? threads
        return options
    }
}

/// The labels file `path`, or, without one, the class folders of an image folder `samples`
/// (nil for other sources).
public func openLabels(_ path: String?, for samples: SampleSource) throws -> SampleSource? {
    if let path { return try openSource(path: path) }
    return (samples as? ImageFolderSource)?.labelSource
}

/// Called with 0 before the first batch, then after each batch with the samples done so far, and
/// the samples selected.
public typealias BatchProgress = (_ done: Int, _ total: Int) -> Void

/// A model ready to run over a data set: the interpreter, its single fed input, and a reader
/// that delivers batches the way that input wants them.
public struct PreparedRun {
    public let interpreter: Interpreter
    public let input: ValueInfo
    public let reader: BatchReader
    /// The settings' batch size, or the model's own when its batch dimension is fixed.
    public let batchSize: Int

    public init(model: Model, data: String, settings: DataSettings) throws {
        let fed = model.graph.runtimeInputs
        guard fed.count == 1, let input = fed.first else {
            throw ModelError("the model has \(fed.count) inputs (\(fed.map(\.name).joined(separator: ", "))); run and eval feed models with exactly one")
        }
        guard let shape = input.tensorType?.shape else {
            throw ModelError("the model's input '\(input.name)' has no declared shape")
        }
        let dims = shape.dims.map(\.value)
        self.input = input
        interpreter = try Interpreter(model: model, threads: settings.threads)
        reader = try BatchReader(source: try openSource(path: data, images: settings.imageOptions), modelInput: dims,
                                 inputName: input.name, preprocessing: settings.preprocessing)
        batchSize = reader.modelBatchSize ?? settings.batch
    }

    /// The selected samples in batches of `batchSize` (or `size`), with their labels if given
    /// (an image folder's labels come from its class folders when `labels` is nil).
    public func batches(selection: SampleSelection, labels: String? = nil, size: Int? = nil) throws -> BatchIterator {
        try reader.batches(batchSize: size ?? batchSize, selection: selection,
                           labels: try openLabels(labels, for: reader.source))
    }

    /// Runs one batch and returns every graph output.
    ///
    /// The model reads the batch in the iterator's buffer, without a copy (the copy of a batch of
    /// 224×224 images, 4.8 MB at batch 8, ran on one thread while the others waited). An output
    /// that shares that buffer (a graph that returns its input reshaped) is copied, since the
    /// buffer takes the next batch.
    public func run(_ batch: Batch, observer: (any RuntimeObserver)? = nil) throws -> [String: RuntimeTensor] {
        let x = try RuntimeTensor(shape: batch.shape, borrowing: batch.values)
        var outputs = try interpreter.run(inputs: [input.name: x], observer: observer)
        for (name, t) in outputs where t.sharesStorage(with: x) {
            outputs[name] = try t.withFloats { try RuntimeTensor(shape: t.shape, copying: $0) }
        }
        return outputs
    }

    /// The batch loop: runs every batch of `batches` through the model and hands each batch with
    /// its outputs to `body`, reporting progress after each. Returns the seconds it took.
    /// The batch's values live in the iterator's buffer: they are valid only during `body`.
    @discardableResult
    public func forEach(_ batches: BatchIterator, observer: (any RuntimeObserver)? = nil, progress: BatchProgress? = nil,
                        _ body: (Batch, [String: RuntimeTensor]) throws -> Void = { _, _ in }) throws -> Double {
        let start = monotonicSeconds()
        var done = 0
        progress?(0, batches.range.count)
        while let batch = try batches.next() {
            try body(batch, try run(batch, observer: observer))
            done += batch.range.count
            progress?(done, batches.range.count)
        }
        return monotonicSeconds() - start
    }
}
