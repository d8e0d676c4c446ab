import ArgumentParser
import ModelPipeline
import ModelRuntime

/// `modeltool eval MODEL --data X --labels Y`: top-1 / top-k accuracy over a labelled data set.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a classifier's top-1 and top-k accuracy on a labelled data set.",
        discussion: """
        Data and labels stream batch by batch from .npy, .npz (file.npz:array), IDX (gzipped or not,
        as Fashion-MNIST ships) or HDF5 (file.h5:/group/dataset). A folder with one subfolder of
        JPEG/PNG images per class is labelled by its folders (sorted names, or --classes), e.g.
          modeltool eval resnet50.onnx --data imagenet/val --preset torchvision The model's first output must give
        one row of class scores per sample; ties rank the lower class first, as numpy's argmax does.
        Example (the bundled LeNet on the bundled Fashion-MNIST slice):
          modeltool eval Fixtures/models/lenet.onnx --data Fixtures/fashion-mnist/images.npy \\
            --labels Fixtures/fashion-mnist/labels.npy --scale 0.00392156862745098
        """
    )

    @Argument(help: "The model file.") var model: String
    @Option(help: "The samples.") var data: String
    @Option(help: "One integer class label per sample (not needed for an image folder: its class folders label it).")
    var labels: String?
    @Option(help: "Also report top-k accuracy for this k.") var top: Int = 5
    @Option(help: "Format of the model, when its extension does not say.") var format: ModelFormat?
    @OptionGroup var dataOptions: DataOptions
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: ArgumentHelp("Time every node and list the slowest (with --json, all of them).",
                             discussion: "A Conv run together with the BatchNormalization and Relu/Clip after it counts as one step."))
    var profile = false

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive") }
    }

    struct Result: Encodable {
        var model: String
        var data: String
        var samples: Int
        var top1: Double
        var topK: Double
        var k: Int
        var top1Correct: Int
        var topKCorrect: Int
        var seconds: Double
        var samplesPerSecond: Double
        /// Seconds per node over the run, slowest first (with --profile).
        var profile: [Interpreter.StepTime]?
    }

    func run() throws {
        try runReportingErrors {
            let m = try ModelFile.open(model, format: format)
            let evaluation = try Evaluation.run(model: m, data: data, labels: labels, top: top, settings: dataOptions.settings,
                                                profile: profile, progress: ProgressBar.callback(unit: "images"))
            let accuracy = evaluation.accuracy
            let result = Result(model: model, data: data, samples: accuracy.samples, top1: accuracy.top1,
                                topK: accuracy.topK, k: top, top1Correct: accuracy.top1Hits,
                                topKCorrect: accuracy.topKHits, seconds: evaluation.seconds,
                                samplesPerSecond: evaluation.rate, profile: profile ? evaluation.profile : nil)
            if json {
                try printJSON(result)
            } else {
                print("\(model) on \(data): \(result.samples) samples")
                print(String(format: "  top-1  %.2f%%  (%d correct)", 100 * result.top1, result.top1Correct))
                print(String(format: "  top-%d  %.2f%%  (%d correct)", top, 100 * result.topK, result.topKCorrect))
                print(String(format: "  %.2f s, %.0f samples/s", result.seconds, result.samplesPerSecond))
                if profile { printProfile(evaluation.profile, samples: result.samples) }
            }
        }
    }
}
