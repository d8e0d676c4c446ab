import Datasets
import Foundation
import ModelFormats
import ModelIR

#if canImport(Glibc)
import Glibc
#endif

/// Parses untrusted HDF5 files (Keras .h5/.keras models, `file.h5:/x` datasets) in a child
/// process, so that a fault inside libhdf5 (Debian 12's 1.10.8 has many on malformed files)
/// becomes a one-line error instead of taking modeltool down.
///
/// The child is this executable again, run with the hidden `_isolated-read` subcommand: for a
/// Keras model it writes the imported graph to standard output in the ONNX encoding, which the
/// parent decodes; for a dataset it reads every sample once and exits. Writing HDF5 files of our
/// own stays in process. Isolation is off until `enable()` is called (the CLI does; library users
/// and unit tests read in process), and `MODELTOOL_HDF5_IN_PROCESS=1` turns it off again.
public enum IsolatedHDF5 {
    /// The hidden subcommand the child runs.
    public static let subcommand = "_isolated-read"
    /// Exit status of a child that failed with an ordinary error; its message is on standard output.
    static let errorStatus: Int32 = 65

    /// The executable that understands `subcommand`, once enabled.
    private(set) static var executable: String?

    /// Reads untrusted HDF5 in child processes of `executable` (default: this process's own binary).
    public static func enable(executable: String? = nil) {
        if ProcessInfo.processInfo.environment["MODELTOOL_HDF5_IN_PROCESS"] == "1" { return }
        guard let path = executable ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) else { return }
        Self.executable = path
        setHDF5DatasetCheck { file, member in try checkDataset(file, member: member) }
    }

    /// `KerasReader.read`, in a child process when isolation is enabled.
    static func readKeras(path: String, configPath: String?, nchwInput: Bool) throws -> Model {
        guard executable != nil else { return try KerasReader.read(path: path, configPath: configPath, nchwInput: nchwInput) }
        var arguments = ["keras"]
        if let configPath { arguments += ["--config", configPath] }
        if nchwInput { arguments.append("--nchw-input") }
        arguments += ["--", path]  // a file name starting with '-' stays a file name
        let bytes = try runChild(arguments, file: path)
        do { return try ONNXReader.read(bytes: bytes) } catch let e as ModelError {
            throw ModelError("\(path): the isolated Keras reader returned an unreadable graph (\(e.message))")
        }
    }

    /// Reads every sample of an HDF5 dataset in a child process; returns once the child did so
    /// without faulting.
    static func checkDataset(_ file: String, member: String?) throws {
        _ = try runChild(["dataset", "--", member.map { "\(file):\($0)" } ?? file], file: file)
    }

    /// Runs the child and returns its standard output; a child's ordinary error is thrown as it
    /// was, a child killed by a signal becomes the "library crashed" error.
    private static func runChild(_ arguments: [String], file: String) throws -> [UInt8] {
        guard let executable else { throw ModelError("\(file): isolated reading is not enabled") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [subcommand] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"  // a crash should end the child at once, quietly
        environment["MODELTOOL_HDF5_IN_PROCESS"] = "1"  // the child reads in process: no grandchildren
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw ModelError("\(file): cannot start the isolated HDF5 reader (\(executable)): \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let status = process.terminationStatus
        switch process.terminationReason {
        case .uncaughtSignal:
            throw ModelError(crashMessage(file: file, signal: status))
        case .exit where status == 0:
            return [UInt8](data)
        case .exit where status == errorStatus:
            throw ModelError(String(decoding: data, as: UTF8.self))
        default:
            throw ModelError("\(file): the isolated HDF5 reader failed (exit status \(status))")
        }
    }

    /// The message for a child killed by `signal`. Swift's own traps (SIGILL, SIGTRAP) are our
    /// bugs, not the library's, and are reported as such.
    static func crashMessage(file: String, signal: Int32) -> String {
        if signal == SIGXCPU {
            return "\(file): malformed HDF5 file (the HDF5 library used more than \(kerasCPUSeconds) s of CPU time reading it)"
        }
        if signal == SIGILL || signal == SIGTRAP {
            return "\(file): malformed file (modeltool's reader stopped on it with signal \(signal); please report it)"
        }
        return "\(file): malformed HDF5 file (the HDF5 library crashed reading it)"
    }

    /// The child's side: reads `file` as `kind` ("keras" or "dataset") in process and writes the
    /// result to standard output. Returns the exit status.
    public static func childMain(kind: String, file: String, configPath: String?, nchwInput: Bool) -> Int32 {
        // A hook for tests of the parent's handling: the child dies as libhdf5 would.
        if ProcessInfo.processInfo.environment["MODELTOOL_TEST_CHILD_CRASH"] == "1" { raise(SIGSEGV) }
        exitWithParent()
        limitMemory(file: file, configPath: configPath)
        do {
            switch kind {
            case "keras":
                // libhdf5 can spin on a malformed file (a libFuzzer keras-zip input ran for over
                // 5 minutes in H5HG_read): the kernel stops the child past a CPU-time budget far
                // above what a real model's import takes (SIGXCPU, reported by the parent).
                var limit = rlimit(rlim_cur: rlim_t(kerasCPUSeconds), rlim_max: rlim_t(kerasCPUSeconds + 5))
                setrlimit(__rlimit_resource_t(RLIMIT_CPU.rawValue), &limit)
                let model = try KerasReader.read(path: file, configPath: configPath, nchwInput: nchwInput)
                try writeAll(try ONNXWriter.serialize(model))
            case "dataset":
                try readEverySample(file)
            default:
                throw ModelError("\(file): unknown isolated read '\(kind)'")
            }
            return 0
        } catch {
            let message = (error as? ModelError)?.message ?? (error as? DatasetError)?.message ?? "\(error)"
            try? writeAll(Array(message.utf8))
            return errorStatus
        }
    }

    /// Caps the child's heap and anonymous mappings (RLIMIT_DATA) at a multiple of the input's size.
    /// libhdf5 sizes some buffers from lengths stored in the file: a keras-zip fuzz input made it
    /// ask for 1 GiB (and take 2.1 GB) converting one string of a 36 KB file. Past the cap its
    /// malloc fails and it reports a read error instead. An import holds the weights about three
    /// times (libhdf5's cache, our tensors, the ONNX encoding sent back), so the cap is what the
    /// process holds at the start, plus 8× the input, plus `MODELTOOL_HDF5_BASE_MB` (default 768).
    private static func limitMemory(file: String, configPath: String?) {
        func size(_ path: String) -> Int? {
            var info = stat()
            return stat(path, &info) == 0 ? Int(info.st_size) : nil
        }
        // A dataset arrives as `file.h5:/member`.
        let container = file.lastIndex(of: ":").map { String(file[..<$0]) }
        var bytes = size(file) ?? container.flatMap(size) ?? 0
        if let configPath { bytes += size(configPath) ?? 0 }
        let base = ProcessInfo.processInfo.environment["MODELTOOL_HDF5_BASE_MB"].flatMap { Int($0) }.map { max(64, $0) } ?? 768
        // On top of what the process already holds: thread stacks and OpenBLAS's buffers, which
        // grow with the machine's cores (188 MB here on 2 cores), count against the limit too.
        let cap = rlim_t(clamping: dataBytesInUse() + base << 20 + 8 * bytes)
        var limit = rlimit(rlim_cur: cap, rlim_max: cap)
        setrlimit(__rlimit_resource_t(RLIMIT_DATA.rawValue), &limit)
    }

    /// The process's data segment and private writable mappings (VmData in /proc/self/status), the
    /// size RLIMIT_DATA is compared with; 0 when unreadable.
    static func dataBytesInUse() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmData:") {
            return (Int(String(line.dropFirst(7).filter(\.isNumber))) ?? 0) * 1024
        }
        return 0
    }

    /// CPU seconds a Keras import may take in the child (`MODELTOOL_HDF5_CPU_SECONDS`, default 300).
    static var kerasCPUSeconds: Int {
        ProcessInfo.processInfo.environment["MODELTOOL_HDF5_CPU_SECONDS"].flatMap { Int($0) }.map { max(1, $0) } ?? 300
    }

    /// Ends the child when its parent is gone (killed while waiting), so that a child stuck in
    /// libhdf5 does not run on as an orphan. A watcher thread compares the parent's id once a
    /// second (prctl's PR_SET_PDEATHSIG is variadic C, which Swift cannot call).
    private static func exitWithParent() {
        let parent = getppid()
        let watcher = Thread {
            while true {
                sleep(1)
                if getppid() != parent { _exit(errorStatus) }
            }
        }
        watcher.start()
    }

    private static func readEverySample(_ path: String) throws {
        let source = try openSource(path: path)
        let step = 64
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, step * source.sampleElementCount))
        defer { buffer.deallocate() }
        var start = 0
        while start < source.count {
            let n = min(step, source.count - start)
            try source.read(start: start, count: n, into: buffer)
            start += n
        }
    }

    private static func writeAll(_ bytes: [UInt8]) throws {
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = write(1, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ModelError("cannot write to the parent process: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }
}
