import Datasets
import ModelIR
import ModelRuntime
import ModelTrimming

/// What `TrimSession.run` does: where APoZ comes from, how to trim, where to write, what to check.
public struct TrimRequest {
    /// Where the APoZ statistics come from.
    public enum Source {
        /// Measure them now on these samples.
        case measure(data: String)
        /// Read a statistics file (checked against the model's fingerprint).
        case file(String)
    }

    public var source: Source
    public var options: TrimOptions
    /// Labels of the measured samples: accuracy before and after is measured on them.
    public var labels: String?
    /// Samples and labels for the accuracy check instead (also the samples of the re-read check).
    public var evaluation: (data: String, labels: String?)?
    /// Where to write the trimmed model; nil replaces the model file.
    public var output: String?
    /// Keep the original as MODEL.bak.
    public var backup = false
    /// Plan (and rewrite in memory, for the sizes) but write nothing.
    public var dryRun = false

    public init(source: Source, options: TrimOptions = TrimOptions(), labels: String? = nil,
                evaluation: (data: String, labels: String?)? = nil, output: String? = nil, backup: Bool = false,
                dryRun: Bool = false) {
        self.source = source
        self.options = options
        self.labels = labels
        self.evaluation = evaluation
        self.output = output
        self.backup = backup
        self.dryRun = dryRun
    }
}

/// The paper's trimming step on one model file: measure APoZ → plan → rewrite → write → re-read
/// check, with accuracy before and after. Each step is a method of its own so that a caller can
/// loop (trim, fine-tune, set `model`, trim again); `run` does the whole step as `modeltool trim` does.
public final class TrimSession {
    /// The model file the session trims.
    public let modelFile: String
    /// Its format; the trimmed model is written in the same one.
    public let format: ModelFormat
    /// The model being trimmed (as read, until a caller replaces it, e.g. after fine-tuning).
    public var model: Model
    /// How samples are read for measuring, checking and evaluating.
    public var settings: DataSettings
    /// Makes a progress callback for each batch loop; `unit` says what it counts ("samples", "images").
    public var progress: (_ unit: String) -> BatchProgress? = { _ in nil }
    /// Receives warnings as they arise (non-finite statistics, training state dropped from a .h5).
    public var warn: (String) -> Void = { _ in }
    /// The fed input's shape for one sample of the data last measured or checked on, by input
    /// name: MACs in the reports are counted for it (a dynamic height and width become concrete).
    public var inputShapes: [String: [Int]] = [:]

    /// Reads the model; the format comes from the file's extension.
    public init(modelFile: String, settings: DataSettings = DataSettings()) throws {
        self.modelFile = modelFile
        format = try ModelFormat.of(modelFile)
        model = try ModelFile.open(modelFile)
        self.settings = settings
    }

    /// APoZ of `model` over `data` at the default observation points.
    public func measureApoz(on data: String) throws -> ApozStatistics {
        let result = try ApozCollection(model: model, modelFile: modelFile, data: data, settings: settings)
            .run(progress: progress("samples"))
        inputShapes = result.inputShapes
        return result.statistics
    }

    /// The fed input's shape for one sample of `data` ([1] + the sample shape the reader delivers),
    /// read from the data's header without running the model.
    public func sampleInputShapes(of data: String) throws -> [String: [Int]] {
        let fed = model.graph.runtimeInputs
        guard fed.count == 1, let input = fed.first, let shape = input.tensorType?.shape else { return [:] }
        let reader = try BatchReader(source: try openSource(path: data, images: settings.imageOptions),
                                     modelInput: shape.dims.map(\.value), inputName: input.name,
                                     preprocessing: settings.preprocessing)
        return [input.name: [reader.modelBatchSize ?? 1] + reader.sampleShape]
    }

    /// Reads a statistics file and checks it was collected on `model`.
    public func readApoz(from path: String) throws -> ApozStatistics {
        try ApozStatistics.read(from: path, for: model, modelFile: modelFile)
    }

    /// Which channels of which coupled groups to remove.
    public func plan(_ statistics: ApozStatistics, options: TrimOptions) throws -> TrimPlan {
        var channels: [String: ChannelStatistics] = [:]
        for t in statistics.tensors { channels[t.tensor] = ChannelStatistics(apoz: t.apoz, mean: t.means, channelsLast: t.channelsLast == true) }
        let analysis = try ChannelAnalysis(model: model, allowOutputChange: options.allowOutputChange)
        return try TrimPlan(analysis: analysis, statistics: channels, options: options)
    }

    /// The trimmed model (in memory) and its notes.
    public func rewrite(_ plan: TrimPlan) throws -> TrimResult { try plan.apply() }

    /// Writes `trimmed` in the session's format to `destination` (default: the model file),
    /// keeping the original as MODEL.bak with `backup`. Returns the path written.
    @discardableResult
    public func write(_ trimmed: Model, to destination: String? = nil, backup: Bool = false) throws -> String {
        let destination = destination ?? modelFile
        if backup { try ModelFile.backUp(model, readFrom: modelFile, format: format) }
        // -o names its own format by its extension (model.h5 -o small.onnx); otherwise the model's.
        let target = ModelFormat(path: destination) ?? format
        // A legacy .h5 keeps its training_config and the optimizer weights that still fit.
        let keep = format == .h5 && target == .h5 ? modelFile : nil
        for message in try ModelFile.save(trimmed, to: destination, format: target, keepingTrainingStateOf: keep) {
            warn(message)
        }
        return destination
    }

    /// Reads the file at `path` back and runs the first few (at most 8) of `samples` through it and
    /// `model`: the largest difference of any output value (infinity when the outputs differ in shape).
    public func deviation(ofFileAt path: String, samples: String) throws -> Double? {
        var few = settings
        few.limit = min(settings.limit ?? 8, 8)
        // One batch of all the chosen samples, run through one model after the other so that only
        // one interpreter (with its copy of the weights) is alive at a time.
        func outputs(of model: Model) throws -> [String: (shape: [Int], values: [Float])]? {
            let run = try PreparedRun(model: model, data: samples, settings: few)
            let batches = try run.batches(selection: SampleSelection(limit: few.limit), size: few.limit)
            guard !batches.range.isEmpty else { return nil }
            var result: [String: (shape: [Int], values: [Float])] = [:]
            try run.forEach(batches, { _, out in result = out.mapValues { ($0.shape, $0.floats) } })
            return result
        }
        guard let before = try outputs(of: model) else { return nil }
        // The model's weights may live in its mapped file (ONNX): its pages need not stay resident
        // while the written file is read and run.
        model.releaseResidentPages()
        guard let after = try outputs(of: try ModelFile.open(path)) else { return nil }
        var worst = 0.0
        for (name, x) in before {
            guard let y = after[name], x.shape == y.shape else { return .infinity }
            for (u, v) in zip(x.values, y.values) { worst = max(worst, Double(abs(u - v))) }
        }
        return worst
    }

    /// Top-1 accuracy of `model` over labelled samples.
    public func accuracy(of model: Model, data: String, labels: String?) throws -> Double {
        try Evaluation.run(model: model, data: data, labels: labels, top: 1, settings: settings,
                           progress: progress("images")).accuracy.top1
    }

    /// The whole step, as `modeltool trim` runs it. A dry run still rewrites in memory, so the
    /// outcome shows the sizes the trim would give.
    public func run(_ request: TrimRequest) throws -> TrimOutcome {
        let statistics: ApozStatistics
        let source: String
        switch request.source {
        case .file(let path):
            statistics = try readApoz(from: path)
            source = path
            // The statistics file does not record the sample shape: the checking data gives it.
            if let samples = request.evaluation?.data { inputShapes = try sampleInputShapes(of: samples) }
        case .measure(let data):
            statistics = try measureApoz(on: data)
            source = data
        }
        for warning in statistics.warnings { warn(warning) }
        let plan = try plan(statistics, options: request.options)
        let result = try rewrite(plan)
        var outcome = TrimOutcome(model: modelFile, plan: plan, report: try result.report(inputShapes: inputShapes), statistics: source,
                                  samples: statistics.samples)
        outcome.dryRun = request.dryRun
        guard !request.dryRun else { return outcome }
        let destination = try write(result.model, to: request.output, backup: request.backup)
        outcome.written = destination
        var measured: String?
        if case .measure(let data) = request.source { measured = data }
        if let samples = request.evaluation?.data ?? measured {
            outcome.maxDeviation = try deviation(ofFileAt: destination, samples: samples)
        }
        // Without a labels file, an image folder labels itself.
        let labelled = request.evaluation ?? measured.flatMap { data in
            request.labels != nil || isImageFolder(data) ? (data: data, labels: request.labels) : nil
        }
        if let (x, y) = labelled {
            outcome.accuracyBefore = try accuracy(of: model, data: x, labels: y)
            outcome.accuracyAfter = try accuracy(of: try ModelFile.open(destination), data: x, labels: y)
        }
        return outcome
    }
}
