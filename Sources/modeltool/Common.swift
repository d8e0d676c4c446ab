import ArgumentParser
import Datasets
import FileIO
import ModelFormats
import ModelIR

#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to standard error.
func printError(_ message: String) {
    fputs(message + "\n", stderr)
}

/// Runs a subcommand body, turning our one-line errors into `modeltool: …` and exit status 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ModelError {
        printError("modeltool: \(e.message)")
        throw ExitCode(1)
    } catch let e as DatasetError {
        printError("modeltool: \(e.message)")
        throw ExitCode(1)
    } catch let e as FileError {
        printError("modeltool: \(e.message)")
        throw ExitCode(1)
    }
}

/// Model file formats, chosen from the file extension unless --format says otherwise.
enum ModelFormat: String, ExpressibleByArgument, CaseIterable {
    case onnx

    init?(path: String) {
        if path.lowercased().hasSuffix(".onnx") { self = .onnx } else { return nil }
    }

    static func of(_ path: String, override: ModelFormat?) throws -> ModelFormat {
        if let override { return override }
        guard let f = ModelFormat(path: path) else {
            throw ModelError("\(path): cannot tell the format from the extension; use --format (\(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return f
    }
}

/// Reads a model in any supported format.
func loadModel(_ path: String, format: ModelFormat? = nil) throws -> Model {
    switch try ModelFormat.of(path, override: format) {
    case .onnx: return try ONNXReader.read(path: path)
    }
}
