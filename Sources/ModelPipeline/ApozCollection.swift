import Datasets
import ModelIR
import ModelRuntime

/// Runs a model over a data set with an `ApozObserver` and returns the statistics.
public struct ApozCollection {
    public var model: Model
    /// The model's file, recorded in the statistics.
    public var modelFile: String
    /// The samples (path, or path:member).
    public var data: String
    public var settings: DataSettings
    public var shard: Shard?
    public var selection: ObservationPoints.Selection
    /// Skips counting (benchmark of plain inference over the same loop).
    public var countActivations = true

    public struct Result {
        public var statistics: ApozStatistics
        public var seconds: Double
        /// The fed input's shape for one sample as the data delivers it ([1] + sample shape, or
        /// the model's fixed batch first),
        /// by input name: what MACs are counted for.
        public var inputShapes: [String: [Int]]
    }

    public init(model: Model, modelFile: String, data: String, settings: DataSettings, shard: Shard? = nil,
                selection: ObservationPoints.Selection = .defaults) {
        self.model = model
        self.modelFile = modelFile
        self.data = data
        self.settings = settings
        self.shard = shard
        self.selection = selection
    }

    public func run(progress: BatchProgress? = nil) throws -> Result {
        let points = try ObservationPoints.find(in: model, selection: selection)
        let prepared = try PreparedRun(model: model, data: data, settings: settings)
        let batches = try prepared.batches(selection: SampleSelection(limit: settings.limit, shard: shard))
        let total = prepared.reader.source.count
        guard !batches.range.isEmpty else {
            let what = total == 0 ? "holds no samples" : "selection (--limit/--shard) holds no samples of its \(total)"
            throw ModelError("\(data): the data set \(what); APoZ needs at least one example")
        }
        let observer = ApozObserver(points: points, threads: prepared.interpreter.threads)
        var nonFiniteSamples = 0
        let seconds = try prepared.forEach(batches, observer: countActivations ? observer : nil, progress: progress) { batch, _ in
            nonFiniteSamples += countNonFiniteSamples(batch)
        }
        let run = ApozStatistics.Run(
            data: data, datasetSamples: total, first: batches.range.lowerBound, count: batches.range.count,
            limit: settings.limit, shard: shard.map { "\($0.index)/\($0.count)" },
            preprocessing: describe(prepared.reader.preprocessing), samplesWithNonFiniteInput: nonFiniteSamples)
        let tensors = countActivations ? try observer.statistics() : []
        let stats = ApozStatistics(fingerprint: ModelFingerprint.of(model), modelFile: modelFile, runs: [run],
                                   tensors: tensors)
        return Result(statistics: stats, seconds: seconds,
                      inputShapes: [prepared.input.name: [prepared.reader.modelBatchSize ?? 1] + prepared.reader.sampleShape])
    }

    private func countNonFiniteSamples(_ batch: Batch) -> Int {
        let samples = batch.range.count
        guard samples > 0 else { return 0 }
        let per = batch.values.count / samples
        var bad = 0
        for s in 0..<samples where batch.values[(s * per)..<((s + 1) * per)].contains(where: { !$0.isFinite }) { bad += 1 }
        return bad
    }

    private func describe(_ p: Preprocessing) -> String {
        var parts: [String] = []
        if let s = p.scale { parts.append("scale \(s)") }
        if let m = p.mean { parts.append("mean \(m.map { "\($0)" }.joined(separator: ","))") }
        if let s = p.std { parts.append("std \(s.map { "\($0)" }.joined(separator: ","))") }
        parts.append("layout \(p.layout)")
        return parts.joined(separator: ", ")
    }
}
