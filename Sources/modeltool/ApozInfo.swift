import ArgumentParser
import Datasets
import Foundation
import ModelIR
import ModelPipeline
import ModelRuntime

/// The APoZ part of `modeltool info`: read statistics or collect them, then summarise and plot.
struct ApozInfoOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Show APoZ from a statistics file written by `modeltool apoz`.", valueName: "stats.json"))
    var apoz: String?
    @Option(help: "Collect APoZ over these samples first (batches of --batch, default 64).") var data: String?
    @Option(help: "With --data: use only the first N samples.") var limit: Int?
    @Option(help: "With --data: multiply stored values by this first.") var scale: Float?
    @Option(help: ArgumentHelp("With --data: per-channel mean subtracted after --scale.", valueName: "m[,m...]")) var mean: String?
    @Option(help: ArgumentHelp("With --data: per-channel standard deviation divided by after --mean.", valueName: "s[,s...]")) var std: String?
    @Option(help: "With --data: layout of the stored samples (nchw or nhwc).") var layout: DataLayout?
    @Option(help: "With --data: threads (default: the number of cores).") var threads: Int?
    @OptionGroup var observeOptions: ObserveOptions
    @OptionGroup(title: "Image folders (with --data DIR)") var images: ImageOptions
    @Flag(help: "List APoZ, zeros, and activation mean and std per channel.") var channels = false
    @Option(help: ArgumentHelp("Write a histogram of channel APoZ per observed layer (SVG).", valueName: "apoz.svg"))
    var plot: String?

    func validate() throws {
        if apoz != nil && data != nil { throw ValidationError("--apoz (read statistics) and --data (collect them) exclude each other") }
        if apoz == nil && data == nil && (channels || plot != nil) {
            throw ValidationError("--channels and --plot need APoZ statistics: give --apoz stats.json or --data X")
        }
        if data == nil && (limit != nil || scale != nil || mean != nil || std != nil || layout != nil || threads != nil) {
            throw ValidationError("--limit, --scale, --mean, --std, --layout and --threads apply to --data")
        }
        if apoz != nil && observeOptions.selection != .defaults {
            throw ValidationError("--observe/--observe-also choose tensors while collecting; with --apoz the file decides")
        }
        _ = try dataOptions(batch: 64)
    }

    var wanted: Bool { apoz != nil || data != nil }

    /// The data options `apoz` would take, parsed by `DataOptions` itself so checks stay in one place.
    func dataOptions(batch: Int) throws -> DataOptions {
        try DataOptions.parsing(batch: batch, limit: limit, scale: scale, mean: mean, std: std, layout: layout, threads: threads,
                                images: images)
    }

    /// Reads or collects the statistics for `model` and checks they belong to it.
    func statistics(model: Model, file: String, batch: Int?) throws -> ApozStatistics {
        if let apoz { return try ApozStatistics.read(from: apoz, for: model, modelFile: file) }
        let collection = ApozCollection(model: model, modelFile: file, data: data!, settings: try dataOptions(batch: batch ?? 64).settings,
                                        selection: observeOptions.selection)
        return try collection.run(progress: ProgressBar.callback(unit: "samples")).statistics
    }
}

/// APoZ per observed layer, as `info` shows it and puts in its JSON.
struct ApozReport: Encodable {
    struct Layer: Encodable {
        var tensor: String
        var node: String
        var op: String
        var producers: [ObservationPoint.Layer]
        var channels: Int
        /// What APoZ counts: `zeros` of the tensor (ReLU, the paper's), or `nonPositive`, the off
        /// region: the share of positions where `input`, the activation's input, is ≤ 0.
        var region: CountedRegion
        var input: String?
        var summary: ApozSummary
        var nonFinite: UInt64
        /// Per channel: APoZ, counts (exact zeros or inputs ≤ 0), positions, and the activation's
        /// mean and std.
        var apoz: [Double]
        var zeros: [UInt64]
        var positions: [UInt64]
        var activationMean: [Double]
        var activationStd: [Double]
    }

    var source: String
    var samples: UInt64
    var data: [String]
    var layers: [Layer]
    var warnings: [String]

    init(_ stats: ApozStatistics, source: String) {
        self.source = source
        samples = stats.samples
        data = stats.runs.map { run in
            "\(run.data) samples \(run.first)..<\(run.first + run.count) of \(run.datasetSamples)" + (run.shard.map { " (shard \($0))" } ?? "")
        }
        layers = stats.tensors.map { t in
            Layer(tensor: t.tensor, node: t.node, op: t.op, producers: t.producers, channels: t.channels,
                  region: t.countedRegion, input: t.input, summary: ApozSummary(apoz: t.apoz), nonFinite: t.totalNonFinite, apoz: t.apoz, zeros: t.zeros,
                  positions: t.positions, activationMean: t.means, activationStd: t.standardDeviations)
        }
        warnings = stats.warnings
    }

    func text(channels: Bool) -> String {
        var out = ["", "", "  APoZ        \(samples) samples from \(source)"]
        for d in data { out.append("              \(d)") }
        var table = TextTable(header: ["#", "observed tensor", "channels of", "counts", "ch", "mean", "std", "min", "max",
                                       ">mean+std"], rightAligned: [0, 4, 5, 6, 7, 8, 9])
        for (i, l) in layers.enumerated() {
            let s = l.summary
            table.add([String(i), l.tensor, l.producers.map(\.name).joined(separator: " + "), Self.counts(l.region),
                       String(l.channels), percent(s.mean), percent(s.std), percent(s.min), percent(s.max),
                       String(s.aboveMeanPlusStd)])
        }
        out.append(table.render())
        if layers.contains(where: { $0.region == .nonPositive }) {
            out.append("  counts: zeros = the paper's APoZ, exact zeros of the output; input <= 0 = the off region,")
            out.append("          the share of positions where the activation's input is <= 0 (SiLU, GELU, HardSwish, ...)")
        }
        if channels {
            for l in layers {
                out.append("")
                let off = l.input.map { " (off region: input '\($0)' <= 0)" } ?? ""
                out.append("  \(l.tensor)  (channels of \(l.producers.map(\.name).joined(separator: " + ")))\(off)")
                var t = TextTable(header: ["channel", "APoZ", "", l.region == .zeros ? "zeros" : "input <= 0", "positions",
                                           "act. mean", "act. std"],
                                  rightAligned: [0, 1, 3, 4, 5, 6])
                let threshold = l.summary.threshold
                for c in 0..<l.channels {
                    t.add([String(c), percent(l.apoz[c]), l.apoz[c] > threshold ? "*" : " ", String(l.zeros[c]),
                           String(l.positions[c]), String(format: "%.4g", l.activationMean[c]),
                           String(format: "%.4g", l.activationStd[c])])
                }
                out.append(t.render())
            }
            out.append("  * APoZ above the layer's mean + 1 std")
        }
        for w in warnings { out.append("  \(w)") }
        return out.joined(separator: "\n")
    }

    private func percent(_ v: Double) -> String { String(format: "%.2f%%", 100 * v) }

    /// The name of what a layer's APoZ counts, as the table shows it.
    static func counts(_ region: CountedRegion) -> String {
        switch region {
        case .zeros: return "zeros"
        case .nonPositive: return "input <= 0"
        }
    }
}
