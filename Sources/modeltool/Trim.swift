import ArgumentParser
import Datasets
import Foundation
import ModelFormats
import ModelIR
import ModelRuntime
import ModelTrimming

/// `modeltool trim MODEL (--data X | --stats S)`: remove high-APoZ channels, in place.
struct Trim: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove channels with a high Average Percentage of Zeros and rewrite the model, in place.",
        discussion: """
        The paper's loop: measure APoZ on validation data (--data, or a statistics file from `modeltool apoz` with --stats), remove the channels whose APoZ exceeds their layer's mean + 1 std, with every connection to and from them, then fine-tune and repeat. By default the 2 coupled groups with the highest mean APoZ are trimmed (--top); --layers names layers or observed tensors, or says all.

        Channels that must be removed together (a residual Add ties its inputs, a depthwise conv passes channels on, a Concat maps them by offset) form one group; a channel of a group is scored by the lowest APoZ among the group's observation points, since it must be useless everywhere. Groups that reach a graph output, an LRN, a Softmax over channels, a channel shuffle or an operator without a channel rule are not trimmed; the plan says why.

        Compensation (on by default) folds each removed channel's mean activation into its consumers' biases, so a channel that is constant on every input leaves the outputs unchanged; --no-compensate gives the paper's plain removal.

        The model is rewritten atomically as the same format (-o writes elsewhere; --backup keeps MODEL.bak). After writing, the file is read back, a few samples run through both models, and the largest output deviation is printed. With --labels, accuracy before and after is measured on --eval-data/--eval-labels, or on --data.

        Preprocessing options are those of eval, except that the per-channel std is --data-std here (--std is the criterion).
        """
    )

    @Argument(help: "The model to trim (.onnx, Keras .h5 or .keras; rewritten in the same format).") var model: String
    @Option(help: "Validation samples to measure APoZ on.") var data: String?
    @Option(help: ArgumentHelp("APoZ statistics written by `modeltool apoz` (instead of --data).", valueName: "stats.json"))
    var stats: String?
    @Option(help: "Labels of --data: report accuracy before and after.") var labels: String?
    @Option(help: "Samples for the accuracy check, if not --data.") var evalData: String?
    @Option(help: "Labels of --eval-data.") var evalLabels: String?

    @Option(help: "Remove channels with APoZ above mean + K*std of their layer (the paper: K = 1).") var std: Double?
    @Option(help: "Remove channels with APoZ above this absolute value.") var threshold: Double?
    @Option(help: "Remove this share of each group's channels, highest APoZ first.") var ratio: Double?
    @Option(help: "Never keep fewer channels than this per group.") var minKeep: Int = 1
    @Option(help: ArgumentHelp("Layers or observed tensors to trim (comma-separated), or 'all'.", valueName: "a,b|all"))
    var layers: String?
    @Option(help: "Without --layers: trim the N groups with the highest mean APoZ.") var top: Int = 2
    @Flag(inversion: .prefixedNo, help: "Fold removed channels' mean activations into the consumers' biases.")
    var compensate = true
    @Flag(help: "Allow removing channels of tensors that are graph outputs.") var allowOutputChange = false

    @Option(name: .shortAndLong, help: "Write the trimmed model here instead of replacing MODEL.") var output: String?
    @Flag(help: "Keep the original as MODEL.bak.") var backup = false
    @Flag(help: "Print the plan and write nothing.") var dryRun = false
    @Flag(help: "Print the plan and report as JSON.") var json = false

    @Option(help: "Samples per batch.") var batch: Int = 64
    @Option(help: "Use only the first N samples of --data (and of the accuracy check).") var limit: Int?
    @Option(help: "Multiply stored values by this first, e.g. 0.00392156862745098 (1/255).") var scale: Float?
    @Option(help: ArgumentHelp("Per-channel mean subtracted after --scale.", valueName: "m[,m...]")) var mean: String?
    @Option(help: ArgumentHelp("Per-channel standard deviation divided by after --mean.", valueName: "s[,s...]"))
    var dataStd: String?
    @Option(help: "Layout of the stored samples: nchw or nhwc.") var layout: DataLayout?
    @Option(help: "Threads for all parallel work (default: the number of cores).") var threads: Int?

    func validate() throws {
        if (data == nil) == (stats == nil) { throw ValidationError("give exactly one of --data X (measure APoZ) and --stats S") }
        if [std, threshold, ratio].compactMap({ $0 }).count > 1 {
            throw ValidationError("--std, --threshold and --ratio are alternative criteria; give one")
        }
        if let ratio, !(ratio > 0 && ratio < 1) { throw ValidationError("--ratio must lie between 0 and 1") }
        if let threshold, !(threshold >= 0 && threshold <= 1) { throw ValidationError("--threshold is an APoZ between 0 and 1") }
        if minKeep < 1 { throw ValidationError("--min-keep must be at least 1") }
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if (evalData == nil) != (evalLabels == nil) { throw ValidationError("--eval-data and --eval-labels go together") }
        if labels != nil && data == nil { throw ValidationError("--labels labels --data; with --stats use --eval-data/--eval-labels") }
        _ = try dataOptions()
    }

    /// The data options, parsed by `DataOptions` itself so its checks apply.
    func dataOptions() throws -> DataOptions {
        var args = ["--batch", String(batch)]
        if let limit { args += ["--limit", String(limit)] }
        if let scale { args += ["--scale", String(scale)] }
        if let mean { args += ["--mean", mean] }
        if let dataStd { args += ["--std", dataStd] }
        if let layout { args += ["--layout", layout.rawValue] }
        if let threads { args += ["--threads", String(threads)] }
        do { return try DataOptions.parse(args) } catch { throw ValidationError(DataOptions.message(for: error)) }
    }

    var options: TrimOptions {
        let criterion: TrimCriterion = threshold.map { .threshold($0) } ?? ratio.map { .ratio($0) } ?? .meanPlusStd(k: std ?? 1)
        let selection: LayerSelection
        switch layers {
        case nil: selection = .top(top)
        case "all"?: selection = .all
        case let list?: selection = .named(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        return TrimOptions(criterion: criterion, minKeep: minKeep, layers: selection, compensate: compensate,
                           allowOutputChange: allowOutputChange)
    }

    func run() throws {
        try runReportingErrors {
            let format = try ModelFormat.of(model, override: nil)
            let original = try loadModel(model)
            let dataOptions = try dataOptions()
            let statistics: ApozStatistics
            if let stats {
                statistics = try readStatistics(stats)
                guard statistics.fingerprint == ModelFingerprint.of(original) else {
                    throw StatisticsError("\(stats) was collected on a different model (\(statistics.modelFile)) than \(model): their graph or weights differ")
                }
            } else {
                statistics = try ApozCollection(model: original, modelFile: model, data: data!, options: dataOptions,
                                                shard: nil, selection: .defaults).run().statistics
            }
            for warning in nonFiniteWarnings(statistics) { printError("modeltool: \(warning)") }
            var channelStats: [String: ChannelStatistics] = [:]
            for t in statistics.tensors { channelStats[t.tensor] = ChannelStatistics(apoz: t.apoz, mean: t.means) }

            // A dry run still rewrites in memory, so the plan shows the sizes it would give.
            let (plan, result) = try Trimmer.trim(original, statistics: channelStats, options: options)
            var outcome = TrimOutcome(model: model, plan: plan, report: try result?.report() ?? TrimReport(plan: plan, trimmed: nil),
                                      statistics: stats ?? data!, samples: statistics.samples)
            outcome.dryRun = dryRun
            if !dryRun, let trimmed = result?.model {
                let destination = output ?? model
                if backup {
                    // An ONNX backup is written (losslessly) with its own external-data file, so
                    // it never shares MODEL.data with the trimmed model.
                    if format == .onnx { try ONNXWriter.write(original, to: model + ".bak") } else { try copyFile(model, to: model + ".bak") }
                }
                switch format {
                case .onnx:
                    try ONNXWriter.write(trimmed, to: destination)
                case .h5:
                    // model_config follows the new widths; training_config and the optimizer
                    // weights that still fit are kept, the others dropped with a message.
                    for message in try KerasWriter.rewriteLegacyH5(trimmed, keepingTrainingStateOf: model, to: destination) {
                        printError("modeltool: \(message)")
                    }
                case .keras:
                    try KerasWriter.write(trimmed, to: destination, as: .kerasZip)
                }
                outcome.written = destination
                outcome.maxDeviation = try deviation(original: original, writtenAt: destination, options: dataOptions)
                if let (x, y) = accuracyData {
                    outcome.accuracyBefore = try evaluate(model: original, data: x, labels: y, top: 1, options: dataOptions).accuracy.top1
                    outcome.accuracyAfter = try evaluate(model: try loadModel(destination), data: x, labels: y, top: 1,
                                                         options: dataOptions).accuracy.top1
                }
            }
            if json { try printJSON(outcome) } else { print(outcome.text) }
        }
    }

    private var accuracyData: (String, String)? {
        if let evalData, let evalLabels { return (evalData, evalLabels) }
        if let data, let labels { return (data, labels) }
        return nil
    }

    /// Reads the written file back and runs a few samples through it and the original.
    private func deviation(original: Model, writtenAt path: String, options: DataOptions) throws -> Double? {
        guard let samples = evalData ?? data else { return nil }
        var few = options
        few.limit = min(options.limit ?? 8, 8)
        let reread = try loadModel(path)
        let a = try PreparedRun(model: original, dataPath: samples, options: few)
        let b = try PreparedRun(model: reread, dataPath: samples, options: few)
        // The batch's values live in the iterator's buffer: keep the iterator while they are used.
        let batches = try a.reader.batches(batchSize: few.limit!, selection: SampleSelection(limit: few.limit))
        guard let batch = try batches.next() else { return nil }
        let before = try a.run(batch)
        let after = try b.run(batch)
        var worst = 0.0
        for (name, x) in before {
            guard let y = after[name], x.shape == y.shape else { return .infinity }
            for (u, v) in zip(x.floats, y.floats) { worst = max(worst, Double(abs(u - v))) }
        }
        return worst
    }
}

/// Copies a file (for --backup), atomically.
func copyFile(_ source: String, to destination: String) throws {
    guard let data = FileManager.default.contents(atPath: source) else { throw ModelError("\(source): cannot read it to back it up") }
    try AtomicFile.write([UInt8](data), to: destination)
}
