import ArgumentParser
import Datasets
import Foundation
import ModelPipeline

/// `modeltool apoz MODEL --data X -o stats.json` and `modeltool apoz merge a.json b.json -o all.json`.
struct Apoz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apoz",
        abstract: "Collect per-channel APoZ statistics over a data set, or merge statistics files.",
        discussion: """
        modeltool apoz MODEL --data X -o stats.json [--shard i/n] [--batch N] [--limit N]
        modeltool apoz merge a.json b.json ... -o all.json

        The statistics file (format in docs/APOZ-STATS.md) holds a fingerprint of the model's graph and weights, the samples read, and per observed tensor exact per-channel counts of zeros and positions, with the sum and sum of squares of the activations. Shards of one data set (--shard 0/4 ... 3/4) merge into exactly the counts of one full run; `modeltool info MODEL --apoz stats.json` shows them.
        """,
        subcommands: [Collect.self, Merge.self],
        defaultSubcommand: Collect.self
    )

    struct Collect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "collect",
            abstract: "Count zero activations per channel over a data set (the default subcommand).",
            discussion: observationHelp + """


            Example (the bundled LeNet and Fashion-MNIST slice, second of four shards):
              modeltool apoz Fixtures/models/lenet.onnx \\
                --data Fixtures/fashion-mnist/images.npy \\
                --scale 0.00392156862745098 --shard 1/4 -o lenet.1.json
            """
        )

        @Argument(help: "The model file.") var model: String
        @Option(help: "The samples (.npy, .npz:array, IDX, or HDF5 file.h5:/dataset).") var data: String
        @Option(name: .shortAndLong, help: "Where to write the statistics (JSON, written atomically).") var output: String?
        @Option(help: ArgumentHelp("Process only the i-th of n equal slices of the (limited) samples, 0-based.", valueName: "i/n"))
        var shard: String?
        @Option(help: "Format of the model, when its extension does not say.") var format: ModelFormat?
        @OptionGroup var dataOptions: DataOptions
        @OptionGroup var observeOptions: ObserveOptions
        @Flag(help: "Print a summary as JSON.") var json = false
        @Flag(help: .hidden) var benchmarkWithoutCounting = false

        func validate() throws {
            if let shard {
                do { _ = try Shard(parsing: shard) } catch let e as DatasetError { throw ValidationError(e.message) }
            }
            if output == nil && !benchmarkWithoutCounting { throw ValidationError("-o/--output is required") }
        }

        struct Summary: Encodable {
            var output: String
            var samples: UInt64
            var tensors: Int
            var seconds: Double
            var samplesPerSecond: Double
            /// MACs of one sample at the data's shape (`inputShapes`); nil when some stay unknown.
            var macsPerSample: Int?
            var inputShapes: [String: [Int]]
        }

        func run() throws {
            try runReportingErrors {
                let m = try ModelFile.open(model, format: format)
                var collection = ApozCollection(model: m, modelFile: model, data: data, settings: dataOptions.settings,
                                                shard: try shard.map(Shard.init(parsing:)),
                                                selection: observeOptions.selection)
                collection.countActivations = !benchmarkWithoutCounting
                let result = try collection.run(progress: ProgressBar.callback(unit: "samples"))
                let stats = result.statistics
                let rate = result.seconds > 0 ? Double(stats.samples) / result.seconds : 0
                if benchmarkWithoutCounting {
                    print(String(format: "%llu samples without counting in %.3f s (%.0f samples/s)", stats.samples, result.seconds, rate))
                    return
                }
                guard let output else { return }
                try stats.write(to: output)
                // MACs for the shape the data really has, so a dynamic height and width count.
                let totals = try m.profileTotals(inputShapes: result.inputShapes)
                let macs = totals.layersWithUnknownMACs.isEmpty ? totals.macs : nil
                for w in stats.warnings { printError("modeltool: \(w)") }
                if json {
                    try printJSON(Summary(output: output, samples: stats.samples, tensors: stats.tensors.count,
                                          seconds: result.seconds, samplesPerSecond: rate, macsPerSample: macs,
                                          inputShapes: result.inputShapes))
                } else {
                    print("\(stats.samples) samples, \(stats.tensors.count) observed tensors -> \(output)"
                        + String(format: " (%.3f s, %.0f samples/s)", result.seconds, rate))
                    print("MACs per sample: \(macs.map(grouped) ?? "unknown") (inputs \(inputShapesText(result.inputShapes)))")
                }
            }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge",
            abstract: "Add statistics files of one model (e.g. the shards of a cluster job) count for count.",
            discussion: """
            Refuses files from different models (fingerprints differ), with different observed tensors, or covering the same samples twice. Sums of activations are added in file order.
            """
        )

        @Argument(help: "Statistics files written by `modeltool apoz`.") var inputs: [String]
        @Option(name: .shortAndLong, help: "Where to write the merged statistics (written atomically).") var output: String

        func validate() throws {
            guard !inputs.isEmpty else { throw ValidationError("give at least one statistics file to merge") }
        }

        func run() throws {
            try runReportingErrors {
                let all = try inputs.map { try ApozStatistics.read(from: $0) }
                let merged = try all[0].merged(Array(all.dropFirst()), names: inputs)
                try merged.write(to: output)
                for w in merged.warnings { printError("modeltool: \(w)") }
                print("\(inputs.count) file(s), \(merged.samples) samples, \(merged.tensors.count) observed tensors -> \(output)")
            }
        }
    }
}
