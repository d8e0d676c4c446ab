import ArgumentParser
import Datasets
import FileIO
import ModelIR
import ModelPipeline

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

/// `--format onnx|h5|keras`.
extension ModelFormat: ExpressibleByArgument {}
