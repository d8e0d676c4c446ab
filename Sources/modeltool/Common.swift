import ArgumentParser
import Datasets
import FileIO
import ModelFormats
import ModelIR
import ModelRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to standard error.
func printError(_ message: String) {
    fputs(message + "\n", stderr)
}

/// The one-line errors of every library: printed as `modeltool: <message>`, exit status 1.
protocol OneLineError: Error {
    var message: String { get }
}

extension ModelError: OneLineError {}
extension DatasetError: OneLineError {}
extension FileError: OneLineError {}
extension StatisticsError: OneLineError {}

/// Runs a subcommand body, turning our one-line errors into `modeltool: …` and exit status 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as OneLineError {
        printError("modeltool: \(e.message)")
        throw ExitCode(1)
    }
}

/// Model file formats, chosen from the file extension unless --format says otherwise.
enum ModelFormat: String, ExpressibleByArgument, CaseIterable {
    case onnx
    /// Keras legacy HDF5 (full model, or weights only with --config).
    case h5
    /// Keras 3 zip (config.json + model.weights.h5).
    case keras

    init?(path: String) {
        let lower = path.lowercased()
        if lower.hasSuffix(".onnx") { self = .onnx } else if lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") {
            self = .h5
        } else if lower.hasSuffix(".keras") { self = .keras } else { return nil }
    }

    static func of(_ path: String, override: ModelFormat?) throws -> ModelFormat {
        if let override { return override }
        guard let f = ModelFormat(path: path) else {
            throw ModelError("\(path): cannot tell the format from the extension; use --format (\(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return f
    }
}

/// Reads a model in any supported format. `kerasConfig` is the to_json() file for a weights-only
/// Keras file; `nchwInput` gives a Keras model a channels-first input instead of Keras's own.
func loadModel(_ path: String, format: ModelFormat? = nil, kerasConfig: String? = nil, nchwInput: Bool = false) throws -> Model {
    switch try ModelFormat.of(path, override: format) {
    case .onnx: return try ONNXReader.read(path: path)
    case .h5, .keras: return try KerasReader.read(path: path, configPath: kerasConfig, nchwInput: nchwInput)
    }
}
