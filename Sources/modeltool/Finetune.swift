import ArgumentParser
import FileIO
import Datasets
import Foundation
import ModelFormats
import ModelIR
import ModelPipeline
import ModelRuntime
import ModelTraining

#if canImport(Glibc)
import Glibc
#endif

extension OptimizerKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}

/// Training options shared by `finetune` and the trim → fine-tune loop.
struct TrainingOptions: ParsableArguments {
    @Option(help: "sgd, adam or adamw.") var optimizer: OptimizerKind = .sgd
    @Option(help: "Learning rate (PyTorch's default, 1e-3, for every optimizer).") var lr: Float = 1e-3
    @Option(help: "SGD momentum (PyTorch's default is 0; 0.9 is usual for fine-tuning).") var momentum: Float = 0
    @Flag(help: "Nesterov momentum (SGD).") var nesterov = false
    @Option(help: "Weight decay: L2 added to the gradient for sgd and adam, decoupled for adamw (default 0, adamw 0.01).")
    var weightDecay: Float?
    @Option(help: "Clip the gradients' global L2 norm to this value.") var clipGradNorm: Float?
    @Option(help: "Label smoothing of the cross-entropy loss, in [0, 1).") var labelSmoothing: Float = 0
    @Option(help: "Learning-rate schedule: constant, step (×--gamma every --step-size epochs) or cosine (to 0 over the run).")
    var schedule: ScheduleKind = .constant
    @Option(help: "Linear warm-up from 0 over this many steps (batches).") var warmup: Int = 0
    @Option(help: "Epochs between decays of the step schedule.") var stepSize: Int = 30
    @Option(help: "Decay factor of the step schedule.") var gamma: Float = 0.1
    @Option(help: ArgumentHelp("Training-time augmentation: crop=N (random crop after N pixels of zero padding), resized-crop (torchvision's RandomResizedCrop, image folders) and/or flip (horizontal, p = 0.5).",
                               valueName: "crop=4,flip"))
    var augment: String?
    @Option(help: "Seed of the shuffling, augmentation and dropout (a run is reproducible at a fixed thread count).")
    var seed: UInt64 = 0
    @Flag(help: "Read the training data in stored order instead of a new seeded permutation each epoch.") var noShuffle = false

    func validate() throws {
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard momentum >= 0 && momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") }
        guard labelSmoothing >= 0 && labelSmoothing < 1 else { throw ValidationError("--label-smoothing must be in [0, 1)") }
        guard warmup >= 0, stepSize > 0 else { throw ValidationError("--warmup must be ≥ 0 and --step-size positive") }
        if let clipGradNorm, !(clipGradNorm > 0) { throw ValidationError("--clip-grad-norm must be positive") }
        if let augment { _ = try Augmentation(parsing: augment) }
    }

    func settings(epochs: Int, batch: Int, limit: Int?, threads: Int?) throws -> FineTuneSettings {
        var s = FineTuneSettings()
        s.epochs = epochs
        s.batchSize = batch
        s.optimizer = OptimizerSettings(kind: optimizer, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay,
                                        clipNorm: clipGradNorm)
        s.schedule = LearningRateSchedule(kind: schedule, baseRate: lr, warmupSteps: warmup, stepEpochs: stepSize, gamma: gamma)
        s.augmentation = try augment.map(Augmentation.init(parsing:)) ?? Augmentation()
        s.labelSmoothing = labelSmoothing
        s.seed = seed
        s.shuffle = !noShuffle
        s.limit = limit
        s.threads = threads ?? Interpreter.defaultThreads
        return s
    }
}

/// `modeltool finetune MODEL --data X --labels Y`: retrains a model's weights from where they are.
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Retrain a model's weights on labelled data (the paper's retraining after a trim), in place.",
        discussion: """
        Trains every weight, bias, BatchNormalization scale/shift and PRelu slope with softmax \
        cross-entropy (on the logits before a final Softmax/LogSoftmax); BatchNormalization uses \
        batch statistics and updates its running mean and variance with the node's momentum, \
        Dropout is active with its ratio. The model is written in its own format: ONNX keeps \
        everything but the tensor values; Keras files get new weights and statistics (optimizer \
        state is not kept). With --val-data the epoch with the best validation accuracy is kept, \
        otherwise the last. Hyper-parameters mean what they mean in PyTorch.
        Example (a few epochs on Fashion-MNIST):
          modeltool finetune lenet.onnx --data train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz \\
            --scale 0.00392156862745098 --val-data t10k-images-idx3-ubyte.gz --val-labels t10k-labels-idx1-ubyte.gz \\
            --epochs 2 --optimizer sgd --lr 0.01 --momentum 0.9 --augment crop=2 -o tuned.onnx
        """
    )

    @Argument(help: "The model file (rewritten in place unless -o is given).") var model: String
    @Option(help: "The training samples.") var data: String
    @Option(help: "One integer class label per training sample (an image folder is labelled by its class folders).")
    var labels: String?
    @Option(help: "Validation samples, measured after each epoch.") var valData: String?
    @Option(help: "Labels of the validation samples.") var valLabels: String?
    @Option(help: "Use only the first N validation samples.") var valLimit: Int?
    @Option(help: "Passes over the training data.") var epochs: Int = 1
    @OptionGroup var training: TrainingOptions
    @OptionGroup var dataOptions: DataOptions
    @Option(name: .shortAndLong, help: "Write the result here instead of over MODEL.") var output: String?
    @Flag(help: "Keep the original as MODEL.bak.") var backup = false
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must not be negative") }
        guard valLabels == nil || valData != nil, valData == nil || valLabels != nil || isImageFolder(valData!) else {
            throw ValidationError("--val-data and --val-labels go together")
        }
        guard labels != nil || isImageFolder(data) else { throw ValidationError("--labels is needed unless --data is an image folder") }
    }

    struct Result: Encodable {
        var model: String
        var output: String
        var samples: Int
        var trainedParameters: Int
        var keptEpoch: Int
        var epochs: [EpochReport]
        var imagesPerSecond: Double
        var seconds: Double
        enum CodingKeys: String, CodingKey {
            case model, output, samples, epochs, seconds
            case trainedParameters = "trained_parameters", keptEpoch = "kept_epoch", imagesPerSecond = "images_per_second"
        }
    }

    func run() throws {
        try runReportingErrors {
            let start = Date()
            let lock = try FileLock.forRewriting(output ?? model)
            defer { withExtendedLifetime(lock) {} }
            let original = try ModelFile.open(model)
            let settings = try training.settings(epochs: epochs, batch: dataOptions.batch, limit: dataOptions.limit, threads: dataOptions.threads)
            let preprocessing = dataOptions.settings.preprocessing
            let reader = try FineTuner.reader(for: original, data: data, preprocessing: preprocessing)
            let validation = valData.map { (data: $0, labels: valLabels) }
            var fine = settings
            fine.validationLimit = valLimit
            let tuner = try FineTuner(model: original, settings: fine)
            let bar = EpochProgressBar(enabled: isatty(2) != 0 && !json)
            if !json { print(EpochTable.header(validation: validation != nil)) }
            guard let trainingLabels = try openLabels(labels, for: reader.source) else {
                throw ValidationError("--labels is needed unless --data is an image folder")
            }
            let result = try tuner.run(train: reader, labels: trainingLabels, validation: validation,
                                       progress: bar.draw) { report in
                bar.finish()
                if !json { print(EpochTable.row(report)); fflush(stdout) }
            }
            let destination = output ?? model
            if backup { try ModelFile.backUp(original, readFrom: model, format: try ModelFormat.of(model)) }
            for message in try FineTuner.save(result.model, source: model, to: destination) { printError("modeltool: \(message)") }
            let outcome = Result(model: model, output: destination, samples: min(dataOptions.limit ?? reader.source.count, reader.source.count),
                                 trainedParameters: result.trainedParameters, keptEpoch: result.keptEpoch, epochs: result.epochs,
                                 imagesPerSecond: result.imagesPerSecond, seconds: Date().timeIntervalSince(start))
            if json {
                try printJSON(outcome)
            } else {
                print("kept epoch \(result.keptEpoch)\(validation != nil ? " (best validation accuracy)" : ""); \(grouped(result.trainedParameters)) trained parameters; wrote \(destination)")
            }
        }
    }
}

/// The per-epoch table of `finetune`.
enum EpochTable {
    static func header(validation: Bool) -> String {
        "epoch  train loss  train acc" + (validation ? "   val acc" : "") + "         lr    img/s     time"
    }

    static func row(_ r: EpochReport) -> String {
        var s = String(format: "%5d  %10.4f  %8.2f%%", r.epoch, r.trainLoss, 100 * r.trainAccuracy)
        if let v = r.validationAccuracy { s += String(format: "  %7.2f%%", 100 * v) }
        s += String(format: "  %9.2e  %7.0f  %6.1fs", r.learningRate, r.imagesPerSecond, r.seconds)
        return s
    }
}

/// One line on standard error: epoch, step, running loss and accuracy, images/s and ETA.
final class EpochProgressBar {
    private let enabled: Bool
    private var lastDraw = 0.0

    init(enabled: Bool) { self.enabled = enabled }

    func draw(_ p: TrainingProgress) {
        guard enabled else { return }
        let now = Date().timeIntervalSince1970
        let last = p.step == p.steps
        guard now - lastDraw > 0.1 || last || p.validating else { return }
        lastDraw = now
        let width = 24, filled = p.steps > 0 ? width * p.step / p.steps : width
        let eta = p.step > 0 ? Int((p.elapsed / Double(p.step) * Double(p.steps - p.step)).rounded()) : 0
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let what = p.validating ? "validating" : String(format: "loss %.4f  acc %.2f%%", p.loss, 100 * p.accuracy)
        let rate = String(format: "%.0f", p.imagesPerSecond)
        fputs("\r\u{1B}[Kepoch \(p.epoch)/\(p.epochs) [\(bar)] \(p.step)/\(p.steps)  \(what)  \(rate) img/s  ETA \(eta / 60):\(String(format: "%02d", eta % 60))",
              stderr)
    }

    func finish() { if enabled { fputs("\r\u{1B}[K", stderr) } }
}
