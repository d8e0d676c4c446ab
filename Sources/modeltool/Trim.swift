import ArgumentParser
import Datasets
import Foundation
import ModelPipeline
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
        try DataOptions.parsing(batch: batch, limit: limit, scale: scale, mean: mean, std: dataStd, layout: layout,
                                threads: threads)
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
            let session = try TrimSession(modelFile: model, settings: try dataOptions().settings)
            session.progress = { unit in ProgressBar.callback(unit: unit) }
            session.warn = { printError("modeltool: \($0)") }
            var request = TrimRequest(source: stats.map { .file($0) } ?? .measure(data: data!), options: options,
                                      labels: labels, output: output, backup: backup, dryRun: dryRun)
            if let evalData, let evalLabels { request.evaluation = (evalData, evalLabels) }
            let outcome = try session.run(request)
            if json { try printJSON(outcome) } else { print(outcome.text) }
        }
    }
}
