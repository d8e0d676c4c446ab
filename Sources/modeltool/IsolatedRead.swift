import ArgumentParser
import ModelPipeline

#if canImport(Glibc)
import Glibc
#endif

/// `modeltool _isolated-read keras|dataset FILE`: the child side of isolated HDF5 parsing (not
/// for users). It reads the file in process and writes the result to standard output; see
/// `IsolatedHDF5`.
struct IsolatedRead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: IsolatedHDF5.subcommand,
        abstract: "Read an untrusted HDF5 file for a parent modeltool process (internal).",
        shouldDisplay: false
    )

    @Argument(help: "keras or dataset") var kind: String
    @Argument(help: "The file (a dataset as file.h5:/name).") var file: String
    @Option(help: "The Keras config, for a weights-only file.") var config: String?
    @Flag(help: "Give the Keras model a channels-first input.") var nchwInput = false

    func run() throws {
        fflush(stdout)
        let status = IsolatedHDF5.childMain(kind: kind, file: file, configPath: config, nchwInput: nchwInput)
        if status != 0 { throw ExitCode(status) }
    }
}
