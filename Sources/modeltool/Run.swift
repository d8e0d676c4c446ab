import ArgumentParser
import Datasets
import ModelIR
import ModelRuntime

/// `modeltool run MODEL --input x.npy -o y.npy`: the model's outputs for every sample.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
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
            let m = try loadModel(model, format: format)
            let prepared = try PreparedRun(model: m, dataPath: input, options: dataOptions)
            prepared.interpreter.profiling = profile
            let batches = try prepared.reader.batches(batchSize: prepared.batchSize,
                                                      selection: SampleSelection(limit: dataOptions.limit))
            let names = m.graph.outputs.map(\.name)
            var collected = [String: [Float]]()
            var rowShape = [String: [Int]]()
            let progress = ProgressBar(total: batches.range.count, unit: "samples")
            while let batch = try batches.next() {
                let outputs = try prepared.run(batch)
                for name in names {
                    guard let t = outputs[name] else { throw ModelError("output '\(name)' was not computed") }
                    rowShape[name] = Array(t.shape.dropFirst())
                    collected[name, default: []] += t.floats
                }
                progress.advance(by: batch.range.count)
            }
            let samples = batches.range.count
            var files: [String] = []
            if output.hasSuffix(".npz") {
                try NpzWriter.write(to: output, arrays: names.map { name in
                    NpzWriter.Array(name: name, shape: [samples] + (rowShape[name] ?? []), values: collected[name] ?? [])
                })
                files = names.map { _ in output }
            } else {
                for name in names {
                    let path = names.count == 1 ? output : output.replacingSuffix(".npy") + ".\(safe(name)).npy"
                    let shape = [samples] + (rowShape[name] ?? [])
                    let values = collected[name] ?? []
                    try NpyWriter.write(to: path, shape: shape) { append in values.withUnsafeBufferPointer(append) }
                    files.append(path)
                }
            }
            let summary = Summary(samples: samples, outputs: rowShape.mapValues { [samples] + $0 }, files: files,
                                  seconds: progress.elapsed, profile: profile ? prepared.interpreter.profile : nil)
            if json {
                try printJSON(summary)
            } else {
                for (name, file) in zip(names, files) {
                    print("\(name) \(summary.outputs[name] ?? []) -> \(file)")
                }
                if profile { printProfile(prepared.interpreter.profile, samples: samples) }
            }
        }
    }

    /// An output name usable in a file name.
    private func safe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
    }
}

extension String {
    func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
