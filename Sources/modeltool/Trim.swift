import ArgumentParser
import FileIO
import Datasets
import Foundation
import ModelPipeline
import ModelTrimming

/// `modeltool trim MODEL (--data X | --stats S)`: remove high-APoZ channels, in place.
struct Trim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trim",
        abstract: "Remove channels with a high Average Percentage of Zeros and rewrite the model, in place.",
        discussion: """
        The paper's loop: measure APoZ on validation data (--data, or a statistics file from `modeltool apoz` with --stats), remove the channels whose APoZ exceeds their layer's mean + 1 std, with every connection to and from them, then fine-tune and repeat. By default the 2 coupled groups with the highest mean APoZ are trimmed (--top); --layers names layers or observed tensors, or says all.

        Channels that must be removed together (a residual Add ties its inputs, a depthwise conv passes channels on, a Concat maps them by offset) form one group; a channel of a group is scored by the lowest APoZ among the group's observation points, since it must be useless everywhere. Groups that reach a graph output, an LRN, a Softmax over channels, a channel shuffle or an operator without a channel rule are not trimmed; the plan says why.

        Compensation (on by default) folds each removed channel's mean activation into its consumers' biases, so a channel that is constant on every input leaves the outputs unchanged; --no-compensate gives the paper's plain removal.

        The model is rewritten atomically as the same format (-o writes elsewhere; --backup keeps MODEL.bak). After writing, the file is read back, a few samples run through both models, and the largest output deviation is printed. With --labels, accuracy before and after is measured on --eval-data/--eval-labels, or on --data.

        Preprocessing options are those of eval, except that the per-channel std is --data-std here (--std is the criterion).

        The paper's whole loop, with retraining: --train-data/--train-labels with --iterations N. Each iteration measures APoZ on --data, trims (--layers stay selected in every iteration; otherwise the --top groups are chosen again from fresh APoZ), measures accuracy on --data/--labels, fine-tunes --finetune-epochs epochs on the training data and measures accuracy again; a table shows each iteration's widths, parameters, compression and accuracy before and after retraining. --max-accuracy-drop D stops once accuracy falls more than D points below the original and keeps the last model within the budget. The fine-tuning options are finetune's (--optimizer, --lr, --momentum, --augment, --seed, ...), with --train-batch and --train-limit for the training batch and sample count.
        Example (the bundled LeNet):
          modeltool trim lenet.onnx --data Fixtures/fashion-mnist/images-idx3-ubyte.gz --labels Fixtures/fashion-mnist/labels-idx1-ubyte.gz \\
            --scale 0.00392156862745098 --layers /conv2/Conv,/fc1/Gemm --train-data Fixtures/fashion-mnist/train6k-images-idx3-ubyte.gz \\
            --train-labels Fixtures/fashion-mnist/train6k-labels-idx1-ubyte.gz --iterations 3 --finetune-epochs 1 --optimizer sgd --lr 0.01 --momentum 0.9
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
    @Flag(help: "List every note, not one line per reason with a count.") var verbose = false

    @Option(help: "Samples per batch.") var batch: Int = 64
    @Option(help: "Use only the first N samples of --data (and of the accuracy check).") var limit: Int?
    @Option(help: "Multiply stored values by this first, e.g. 0.00392156862745098 (1/255).") var scale: Float?
    @Option(help: ArgumentHelp("Per-channel mean subtracted after --scale.", valueName: "m[,m...]")) var mean: String?
    @Option(help: ArgumentHelp("Per-channel standard deviation divided by after --mean.", valueName: "s[,s...]"))
    var dataStd: String?
    @Option(help: "Layout of the stored samples: nchw or nhwc.") var layout: DataLayout?
    @Option(help: "Threads for all parallel work (default: the number of cores).") var threads: Int?

    @Option(help: "Training samples: trim, fine-tune and repeat (the paper's loop).") var trainData: String?
    @Option(help: "Labels of --train-data.") var trainLabels: String?
    @Option(help: "Trim → fine-tune rounds (with --train-data).") var iterations: Int = 1
    @Option(help: "Fine-tuning epochs after each trim.") var finetuneEpochs: Int = 1
    @Option(help: "Samples per training batch.") var trainBatch: Int = 64
    @Option(help: "Use only the first N training samples.") var trainLimit: Int?
    @Option(help: "Stop when accuracy after fine-tuning is more than D points below the original; keep the last model within.")
    var maxAccuracyDrop: Double?
    @Option(help: "What --schedule spans: each iteration's retraining afresh, or the whole loop as one run (a cosine anneals once, across all iterations).")
    var scheduleSpan: ScheduleSpan = .iteration
    @OptionGroup(title: "Image folders (--data DIR)") var images: ImageOptions
    @OptionGroup(title: "Fine-tuning (with --train-data)") var training: TrainingOptions

    func validate() throws {
        if (data == nil) == (stats == nil) { throw ValidationError("give exactly one of --data X (measure APoZ) and --stats S") }
        if [std, threshold, ratio].compactMap({ $0 }).count > 1 {
            throw ValidationError("--std, --threshold and --ratio are alternative criteria; give one")
        }
        if let ratio, !(ratio > 0 && ratio < 1) { throw ValidationError("--ratio must lie between 0 and 1") }
        if let threshold, !(threshold >= 0 && threshold <= 1) { throw ValidationError("--threshold is an APoZ between 0 and 1") }
        if minKeep < 1 { throw ValidationError("--min-keep must be at least 1") }
        if top < 1 { throw ValidationError("--top must be at least 1") }
        // An image folder labels itself; any other data needs its labels file.
        func labelled(_ data: String?, _ labels: String?) -> Bool { labels != nil || data.map(isImageFolder) == true }
        if evalLabels != nil && evalData == nil || evalData != nil && !labelled(evalData, evalLabels) {
            throw ValidationError("--eval-data and --eval-labels go together")
        }
        if labels != nil && data == nil { throw ValidationError("--labels labels --data; with --stats use --eval-data/--eval-labels") }
        _ = try dataOptions()
        if trainLabels != nil && trainData == nil || trainData != nil && !labelled(trainData, trainLabels) {
            throw ValidationError("--train-data and --train-labels go together")
        }
        if trainData != nil {
            guard data != nil, labelled(data, labels) else {
                throw ValidationError("the trim → fine-tune loop measures APoZ and accuracy on --data with --labels")
            }
            guard !dryRun else { throw ValidationError("--dry-run plans one trim; it does not run the fine-tuning loop") }
            guard iterations >= 1, finetuneEpochs >= 0, trainBatch > 0 else {
                throw ValidationError("--iterations and --train-batch must be positive, --finetune-epochs not negative")
            }
            if let trainLimit, trainLimit <= 0 { throw ValidationError("--train-limit must be positive") }
            if let maxAccuracyDrop, !(maxAccuracyDrop >= 0) { throw ValidationError("--max-accuracy-drop must not be negative") }
        } else if iterations != 1 || maxAccuracyDrop != nil || scheduleSpan != .iteration {
            throw ValidationError("--iterations, --max-accuracy-drop and --schedule-span need --train-data and --train-labels (the fine-tuning between trims)")
        }
    }

    /// The data options, parsed by `DataOptions` itself so its checks apply.
    func dataOptions() throws -> DataOptions {
        try DataOptions.parsing(batch: batch, limit: limit, scale: scale, mean: mean, std: dataStd, layout: layout,
                                threads: threads, images: images)
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
            let lock = dryRun ? nil : try FileLock.forRewriting(output ?? model)
            defer { withExtendedLifetime(lock) {} }
            let session = try TrimSession(modelFile: model, settings: try dataOptions().settings)
            session.progress = { unit in ProgressBar.callback(unit: unit) }
            session.warn = { printError("modeltool: \($0)") }
            if let trainData {
                let fineTune = try training.settings(epochs: finetuneEpochs, batch: trainBatch, limit: trainLimit,
                                                     threads: threads)
                var request = TrimLoopRequest(validation: (data!, labels), training: (trainData, trainLabels),
                                              iterations: iterations, options: options, fineTune: fineTune,
                                              maxAccuracyDrop: maxAccuracyDrop, output: output, backup: backup)
                request.scheduleSpansLoop = scheduleSpan == .loop
                let bar = EpochProgressBar(enabled: isatty(2) != 0 && !json)
                let outcome = try session.runLoop(request, started: { params, accuracy in
                    guard !json else { return }
                    print(TrimLoopTable.header)
                    print(TrimLoopTable.original(params: params, accuracy: accuracy))
                    fflush(stdout)
                }, fineTuneProgress: bar.draw) { row in
                    bar.finish()
                    guard !json else { return }
                    print(TrimLoopTable.row(row))
                    fflush(stdout)
                }
                if json { try printJSON(outcome) } else { print(TrimLoopTable.summary(outcome)) }
                return
            }
            var request = TrimRequest(source: stats.map { .file($0) } ?? .measure(data: data!), options: options,
                                      labels: labels, output: output, backup: backup, dryRun: dryRun)
            if let evalData { request.evaluation = (evalData, evalLabels) }
            let outcome = try session.run(request)
            if json { try printJSON(outcome) } else { print(outcome.text(verbose: verbose)) }
        }
    }
}

/// What a learning-rate schedule covers in the trim → fine-tune loop.
enum ScheduleSpan: String, CaseIterable, ExpressibleByArgument {
    case iteration, loop
}

/// The paper's table, one row per iteration, as `trim --iterations` prints it.
enum TrimLoopTable {
    static let header = "iteration     params  compression  top-1 trimmed  top-1 retrained  trimmed groups (channels before → after)"

    static func original(params: Int, accuracy: Double) -> String {
        line("original", params, 1, nil, accuracy, "")
    }

    static func row(_ r: TrimIteration) -> String {
        let groups = r.groups.map { "\($0.layers.first ?? "?") \($0.channelsBefore) → \($0.channelsAfter)" }.joined(separator: ", ")
        return line("\(r.iteration)", r.paramsAfter, r.compressionRate, r.accuracyTrimmed, r.accuracyFineTuned,
                    groups + (r.withinBudget ? "" : "  (over the accuracy budget, not kept)"))
    }

    private static func line(_ name: String, _ params: Int, _ rate: Double, _ trimmed: Double?, _ tuned: Double,
                             _ groups: String) -> String {
        func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        let percent = { (v: Double) in String(format: "%.2f%%", 100 * v) }
        return name.padding(toLength: 9, withPad: " ", startingAt: 0) + right(grouped(params), 11)
            + right(String(format: "%.2f×", rate), 13) + right(trimmed.map(percent) ?? "", 15) + right(percent(tuned), 17)
            + (groups.isEmpty ? "" : "  " + groups)
    }

    static func summary(_ o: TrimLoopOutcome) -> String {
        var lines: [String] = []
        if let stopped = o.stopped { lines.append("stopped at \(stopped)") }
        if let written = o.written {
            lines.append(String(format: "kept %d iteration(s): %@ → %@ parameters (%.2f× fewer), top-1 %.2f%% → %.2f%%; wrote %@",
                                o.keptIterations, grouped(o.paramsOriginal) as NSString, grouped(o.paramsFinal) as NSString,
                                o.compressionRate, 100 * o.accuracyOriginal, 100 * o.accuracyFinal, written as NSString))
        } else {
            lines.append("no iteration kept; \(o.model) is unchanged")
        }
        return lines.joined(separator: "\n")
    }
}
