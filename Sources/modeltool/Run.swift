import ArgumentParser
import ModelPipeline
import ModelRuntime

/// `modeltool run MODEL --input x.npy -o y.npy`: the model's outputs for every sample.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model over samples and save its outputs.",
        discussion: """
        Reads the samples batch by batch (.npy, .npz, IDX or HDF5, as for eval) and writes the
        model's outputs, rows in sample order, as float32. With -o Y.npz every output goes into one
        .npz archive under its own name (numpy.load("Y.npz")["logits"]); with -o Y.npy a single
        output goes to Y.npy, and each of several to Y.<output>.npy.
        """
    )

    @Argument(help: "The model file.") var model: String
    @Option(help: "The samples.") var input: String
    @Option(name: .shortAndLong, help: "Where to write the outputs (.npz for all in one file, or .npy).") var output: String
    @Option(help: "Format of the model, when its extension does not say.") var format: ModelFormat?
    @OptionGroup var dataOptions: DataOptions
    @Flag(help: "Print a summary as JSON.") var json = false
    @Flag(help: ArgumentHelp("Time every node and list the slowest (with --json, all of them).",
                             discussion: "A Conv run together with the BatchNormalization and Relu/Clip after it counts as one step."))
    var profile = false

    struct Summary: Encodable {
        var samples: Int
        var outputs: [String: [Int]]
        var files: [String]
        var seconds: Double
        /// Seconds per node over the run, slowest first (with --profile).
        var profile: [Interpreter.StepTime]?
    }

    func run() throws {
        try runReportingErrors {
            let m = try ModelFile.open(model, format: format)
            let outputs = try ModelOutputs.collect(model: m, data: input, settings: dataOptions.settings, profile: profile,
                                                   progress: ProgressBar.callback(unit: "samples"))
            let files = try outputs.write(to: output)
            let summary = Summary(samples: outputs.samples, outputs: outputs.shapes, files: files,
                                  seconds: outputs.seconds, profile: profile ? outputs.profile : nil)
            if json {
                try printJSON(summary)
            } else {
                for (name, file) in zip(outputs.names, files) {
                    print("\(name) \(summary.outputs[name] ?? []) -> \(file)")
                }
                if profile { printProfile(outputs.profile, samples: outputs.samples) }
            }
        }
    }
}
