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
        reportSkippedImages()
    } catch let e as OneLineError {
        reportSkippedImages()
        printError("modeltool: \(e.message)")
        throw ExitCode(1)
    }
}

/// One line on standard error for the images `--skip-bad` left out: the count and the first few
/// names with the first file's error (all of them are in `--json`).
func reportSkippedImages(shown: Int = 3) {
    let skipped = skippedImages.entries
    guard let first = skipped.first else { return }
    let names = skipped.prefix(shown).map(\.file).joined(separator: ", ") + (skipped.count > shown ? ", …" : "")
    printError("modeltool: skipped \(skipped.count) unreadable image\(skipped.count == 1 ? "" : "s") (--skip-bad): \(names); the first: \(first.error)")
}

/// `--format onnx|h5|keras`.
extension ModelFormat: ExpressibleByArgument {}
