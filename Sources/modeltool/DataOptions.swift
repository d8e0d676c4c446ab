import ArgumentParser
import Datasets
import ModelIR
import ModelRuntime

#if canImport(Glibc)
import Glibc
#endif

/// How samples are read and converted to the model's input; shared by run, eval and apoz.
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
    @Option(help: "Threads for all parallel work, BLAS included (default: the number of cores).") var threads: Int?

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

    var preprocessing: Preprocessing {
        Preprocessing(scale: scale, mean: try? floats(mean, "--mean"), std: try? floats(std, "--std"), layout: layout)
    }
}

extension DataLayout: ExpressibleByArgument {}

/// A model ready to run over a data set: the interpreter, its single fed input, and a reader
/// that delivers batches the way that input wants them.
struct PreparedRun {
    let interpreter: Interpreter
    let input: ValueInfo
    let reader: BatchReader
    let batchSize: Int

    init(model: Model, dataPath: String, options: DataOptions) throws {
        let fed = model.graph.runtimeInputs
        guard fed.count == 1, let input = fed.first else {
            throw ModelError("the model has \(fed.count) inputs (\(fed.map(\.name).joined(separator: ", "))); run and eval feed models with exactly one")
        }
        guard let shape = input.tensorType?.shape else {
            throw ModelError("the model's input '\(input.name)' has no declared shape")
        }
        let dims = shape.dims.map(\.value)
        self.input = input
        interpreter = try Interpreter(model: model, threads: options.threads)
        reader = try BatchReader(source: try openSource(path: dataPath), modelInput: dims, inputName: input.name,
                                 preprocessing: options.preprocessing)
        batchSize = reader.modelBatchSize ?? options.batch
    }

    /// Runs one batch and returns every graph output.
    func run(_ batch: Batch) throws -> [String: RuntimeTensor] {
        let x = try RuntimeTensor(shape: batch.shape, copying: batch.values)
        return try interpreter.run(inputs: [input.name: x])
    }
}

/// Top-1/top-k accuracy of `model` over a labelled data set, with a progress bar.
/// With `profile`, also the time spent in each node (`Interpreter.profile`).
func evaluate(model: Model, data: String, labels: String, top: Int, options: DataOptions,
              progressUnit: String = "images", profile: Bool = false)
    throws -> (accuracy: TopKAccuracy, seconds: Double, rate: Double, profile: [Interpreter.StepTime]) {
    let prepared = try PreparedRun(model: model, dataPath: data, options: options)
    prepared.interpreter.profiling = profile
    let batches = try prepared.reader.batches(batchSize: prepared.batchSize, selection: SampleSelection(limit: options.limit),
                                              labels: try openSource(path: labels))
    guard let outputName = model.graph.outputs.first?.name else { throw ModelError("the model has no outputs") }
    var accuracy = TopKAccuracy(k: top)
    let progress = ProgressBar(total: batches.range.count, unit: progressUnit)
    while let batch = try batches.next() {
        let outputs = try prepared.run(batch)
        guard let scores = outputs[outputName], let batchLabels = batch.labels else { continue }
        let rows = batchLabels.count
        try scores.withFloats { try accuracy.add(scores: $0, classes: rows > 0 ? $0.count / rows : 0, labels: batchLabels) }
        progress.advance(by: rows)
    }
    return (accuracy, progress.elapsed, progress.rate, prepared.interpreter.profile)
}

/// A one-line progress bar on standard error, drawn only when it is a terminal.
final class ProgressBar {
    private let total: Int
    private let unit: String
    private let enabled: Bool
    private let start = monotonicSeconds()
    private var lastDraw = 0.0
    private(set) var done = 0

    init(total: Int, unit: String, enabled: Bool = isatty(2) != 0) {
        self.total = total
        self.unit = unit
        self.enabled = enabled
    }

    var elapsed: Double { monotonicSeconds() - start }
    var rate: Double { elapsed > 0 ? Double(done) / elapsed : 0 }

    func advance(by n: Int) {
        done += n
        guard enabled else { return }
        let now = monotonicSeconds()
        guard now - lastDraw > 0.1 || done >= total else { return }
        lastDraw = now
        let width = 30
        let filled = total > 0 ? min(width, width * done / total) : width
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        fputs("\r[\(bar)] \(done)/\(total) \(unit)  \(Int(rate)) \(unit)/s  ETA \(clock(eta))  ", stderr)
        if done >= total { fputs("\n", stderr) }
    }

    private func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}

