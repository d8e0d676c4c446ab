import ArgumentParser
import FileIO
import ModelFormats
import ModelIR
import ModelPipeline

/// `modeltool convert IN OUT`: rewrite a model, losslessly, in the format OUT's extension names.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a model between formats, or rewrite it losslessly.",
        discussion: """
        Formats come from the extensions (.onnx, .h5, .keras); --format / --to override them.
        An unchanged ONNX round trip keeps everything: metadata, doc strings, functions, training info,
        subgraphs, unknown fields. Tensors stored as external data stay external (in OUT.data) unless
        --external-data or --inline says otherwise. A model over protobuf's 2 GB limit is written with
        external data automatically.
        """
    )

    @Argument(help: "The model to read.") var input: String
    @Argument(help: "Where to write the result (written atomically).") var output: String
    @Option(help: "Format of the input, when its extension does not say.") var format: ModelFormat?
    @Option(help: "Format of the output, when its extension does not say.") var to: ModelFormat?
    @Flag(help: "Store every initializer of 1 KiB or more in OUT.data beside the model (offsets 4 KiB aligned).")
    var externalData = false
    @Flag(help: "Store every tensor inside the model file.") var inline = false
    @Flag(help: "Give a model read from Keras a channels-first (NCHW) input instead of Keras's NHWC one.")
    var nchwInput = false
    @Option(help: "The model's to_json() architecture, for a weights-only Keras .h5 file.") var config: String?

    func validate() throws {
        if externalData && inline { throw ValidationError("--external-data and --inline exclude each other") }
    }

    func run() throws {
        try runReportingErrors {
            let lock = try FileLock.forRewriting(output)
            defer { withExtendedLifetime(lock) {} }
            let model = try ModelFile.open(input, format: format, kerasConfig: config, nchwInput: nchwInput)
            let policy: ExternalDataPolicy = externalData ? .all(threshold: 1024) : inline ? .none : .asRead
            for warning in try ModelFile.save(model, to: output, format: to, externalData: policy) {
                printError("modeltool: \(warning)")
            }
        }
    }
}
