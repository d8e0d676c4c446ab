import ArgumentParser
import Datasets
import Foundation
import ModelPipeline

/// How samples are read and converted to the model's input; shared by run, eval, apoz and finetune.
struct DataOptions: ParsableArguments {
    @Option(help: "Samples per batch (a model with a fixed batch size uses its own).") var batch: Int = 64
    @Option(help: "Use only the first N samples.") var limit: Int?
    @Option(help: "Multiply stored values by this first, e.g. 0.00392156862745098 (1/255).") var scale: Float?
    @Option(help: ArgumentHelp("Per-channel mean subtracted after --scale (one value or one per channel).", valueName: "m[,m...]"))
    var mean: String?
    @Option(help: ArgumentHelp("Per-channel standard deviation divided by after --mean.", valueName: "s[,s...]"))
    var std: String?
    @Option(help: "Layout of the stored samples: nchw (channels first) or nhwc (channels last, transposed on read).")
    var layout: DataLayout = .nchw
    @Option(help: "Threads for all parallel work, BLAS and image decoding included (default: the number of cores).") var threads: Int?
    @OptionGroup(title: "Image folders") var images: ImageOptions

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        _ = try floats(mean, "--mean")
        _ = try floats(std, "--std")
    }

    private func floats(_ text: String?, _ option: String) throws -> [Float]? {
        guard let text else { return nil }
        let parts = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
            throw ValidationError("\(option) takes comma-separated numbers, got '\(text)'")
        }
        return parts.map { $0! }
    }

    /// Data options that a command declares under its own names (trim's --data-std, info's
    /// "with --data" options), parsed by `DataOptions` itself so its checks apply.
    static func parsing(batch: Int, limit: Int?, scale: Float?, mean: String?, std: String?, layout: DataLayout?,
                        threads: Int?, images: ImageOptions = ImageOptions()) throws -> DataOptions {
        var args = ["--batch", String(batch)]
        if let limit { args += ["--limit", String(limit)] }
        if let scale { args += ["--scale", String(scale)] }
        if let mean { args += ["--mean", mean] }
        if let std { args += ["--std", std] }
        if let layout { args += ["--layout", layout.rawValue] }
        if let threads { args += ["--threads", String(threads)] }
        var options: DataOptions
        do { options = try DataOptions.parse(args) } catch { throw ValidationError(DataOptions.message(for: error)) }
        options.images = images
        return options
    }

    /// The options as the library takes them.
    var settings: DataSettings {
        // A preset's values first, then every option given explicitly over them.
        var preprocessing = images.apply(threads: threads)
        if let scale { preprocessing.scale = scale }
        if let mean = try? floats(mean, "--mean") { preprocessing.mean = mean }
        if let std = try? floats(std, "--std") { preprocessing.std = std }
        preprocessing.layout = layout
        return DataSettings(batch: batch, limit: limit, preprocessing: preprocessing, threads: threads)
    }
}

extension DataLayout: ExpressibleByArgument {}
