import ArgumentParser
import Datasets
import ModelIR
import ModelRuntime

/// Which tensors to observe: shared by `apoz` and `info --data`.
struct ObserveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Observe exactly these tensors instead of the default points (repeatable or comma-separated).", valueName: "tensor"))
    var observe: [String] = []
    @Option(help: ArgumentHelp("Observe these tensors in addition to the default points.", valueName: "tensor"))
    var observeAlso: [String] = []

    func validate() throws {
        if !observe.isEmpty && !observeAlso.isEmpty {
            throw ValidationError("--observe (exactly these) and --observe-also (defaults plus these) exclude each other")
        }
    }

    var selection: ObservationPoints.Selection {
        func split(_ list: [String]) -> [String] {
            list.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        }
        if !observe.isEmpty { return .only(split(observe)) }
        if !observeAlso.isEmpty { return .adding(split(observeAlso)) }
        return .defaults
    }
}

/// The help text that explains where APoZ is observed; shared by `apoz` and `info`.
let observationHelp = """
    APoZ (Average Percentage of Zeros) of channel c = exact zeros in channel c (axis 1) over all samples and positions / (samples x positions). It is observed on every Relu output and every Clip whose min is 0 (ReLU6); Keras layers with a fused relu are imported as a Relu node and are observed there too. A Relu after BatchNormalization is observed after the normalisation (at the Relu's output), which is where the zeros are.

    Each point is reported with the layer whose channels it holds (the Conv/Gemm reached back through BatchNormalization, pooling and other channel-preserving layers; several for a residual Add), since that is what trimming removes. --observe NAME observes only the named tensors; --observe-also NAME adds tensors to the defaults. NaN and infinite activations are counted apart (nonFinite), never as zeros.
    """

/// Runs a model over a data set with an `ApozObserver` and returns the statistics.
struct ApozCollection {
    let model: Model
    let modelFile: String
    let data: String
    let options: DataOptions
    let shard: Shard?
    let selection: ObservationPoints.Selection
    /// Skips counting (benchmark of plain inference over the same loop).
    var countActivations = true

    struct Result {
        var statistics: ApozStatistics
        var seconds: Double
    }

    func run() throws -> Result {
        let points = try ObservationPoints.find(in: model, selection: selection)
        let prepared = try PreparedRun(model: model, dataPath: data, options: options)
        let batches = try prepared.reader.batches(batchSize: prepared.batchSize,
                                                  selection: SampleSelection(limit: options.limit, shard: shard))
        let total = prepared.reader.source.count
        guard !batches.range.isEmpty else {
            let what = total == 0 ? "holds no samples" : "selection (--limit/--shard) holds no samples of its \(total)"
            throw ModelError("\(data): the data set \(what); APoZ needs at least one example")
        }
        let observer = ApozObserver(points: points, threads: prepared.interpreter.threads)
        var nonFiniteSamples = 0
        let progress = ProgressBar(total: batches.range.count, unit: "samples")
        while let batch = try batches.next() {
            nonFiniteSamples += countNonFiniteSamples(batch)
            let x = try RuntimeTensor(shape: batch.shape, copying: batch.values)
            _ = try prepared.interpreter.run(inputs: [prepared.input.name: x],
                                             observer: countActivations ? observer : nil)
            progress.advance(by: batch.range.count)
        }
        let run = ApozStatistics.Run(
            data: data, datasetSamples: total, first: batches.range.lowerBound, count: batches.range.count,
            limit: options.limit, shard: shard.map { "\($0.index)/\($0.count)" },
            preprocessing: describe(prepared.reader.preprocessing), samplesWithNonFiniteInput: nonFiniteSamples)
        let tensors = countActivations ? try observer.statistics() : []
        let stats = ApozStatistics(fingerprint: ModelFingerprint.of(model), modelFile: modelFile, runs: [run],
                                   tensors: tensors)
        return Result(statistics: stats, seconds: progress.elapsed)
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

/// Warnings every reader of statistics should see: non-finite inputs and activations.
func nonFiniteWarnings(_ stats: ApozStatistics) -> [String] {
    var lines: [String] = []
    let badSamples = stats.runs.reduce(0) { $0 + $1.samplesWithNonFiniteInput }
    if badSamples > 0 {
        lines.append("warning: \(badSamples) of \(stats.samples) samples hold NaN or infinite input values")
    }
    for t in stats.tensors where t.totalNonFinite > 0 {
        lines.append("warning: tensor '\(t.tensor)' has \(t.totalNonFinite) NaN or infinite values (counted apart, not as zeros)")
    }
    return lines
}
