import Foundation
import XCTest

/// Untrusted HDF5 is parsed in a child process: a libhdf5 crash is one line and exit status 1.
final class HDF5IsolationTests: XCTestCase {
    private let crashMessage = "malformed HDF5 file (the HDF5 library crashed reading it)"

    /// Mutants of Fixtures/keras files that crash libhdf5 1.10.8 (found by Tools/fuzz/mutate-h5.py).
    func testLibraryCrashesBecomeOneLineErrors() throws {
        // hdf5_crash_fuzz.keras and hdf5_crash_fuzz_accum.keras: .keras files whose weights crash
        // libhdf5 (found by Tools/fuzz.sh keras-zip and by CI's fuzz smoke run).
        for name in ["hdf5_crash_memcpy.h5", "hdf5_crash_zoo.h5", "hdf5_crash_fuzz.keras", "hdf5_crash_fuzz_accum.keras"] {
            let path = "Fixtures/bad/\(name)"
            for command in [["info", path], ["convert", path, FileManager.default.temporaryDirectory.path + "/never.onnx"]] {
                let r = try modeltool(command)
                XCTAssertEqual(r.status, 1, "\(command)")
                XCTAssertEqual(r.stderr, "modeltool: \(path): \(crashMessage)\n", "\(command)")
            }
        }
    }

    /// The child's ordinary errors reach the user unchanged, and good files read as before.
    func testChildErrorsAndResultsPassThrough() throws {
        let weightsOnly = try modeltool(["info", "Fixtures/keras/k2_weights_only.h5"])
        XCTAssertEqual(weightsOnly.status, 1)
        XCTAssertEqual(weightsOnly.stderr, "modeltool: Fixtures/keras/k2_weights_only.h5: a weights-only Keras file; give its architecture with --config model.json (the model's to_json())\n")
        for file in ["Fixtures/keras/k2_zoo.h5", "Fixtures/keras/k3_zoo.keras"] {
            let isolated = try modeltool(["info", file, "--json"])
            let inProcess = try modeltool(["info", file, "--json"], environment: ["MODELTOOL_HDF5_IN_PROCESS": "1"])
            XCTAssertEqual(isolated.status, 0, isolated.stderr)
            XCTAssertEqual(isolated.stdout, inProcess.stdout, file)
        }
    }

    /// A crashing child (the test hook raises SIGSEGV in it) is reported for models and datasets.
    func testCrashedChildIsReportedForModelsAndDatasets() throws {
        let crash = ["MODELTOOL_TEST_CHILD_CRASH": "1"]
        let model = try modeltool(["info", "Fixtures/keras/k3_zoo.keras"], environment: crash)
        XCTAssertEqual(model.status, 1)
        XCTAssertEqual(model.stderr, "modeltool: Fixtures/keras/k3_zoo.keras: \(crashMessage)\n")
        let data = try modeltool(["eval", "Fixtures/models/lenet.onnx", "--data", "Fixtures/keras/k2_zoo.h5",
                                  "--labels", "Fixtures/fashion-mnist/labels.npy"], environment: crash)
        XCTAssertEqual(data.status, 1)
        XCTAssertEqual(data.stderr, "modeltool: Fixtures/keras/k2_zoo.h5: \(crashMessage)\n")
    }

    /// A .keras on which libhdf5 spins (found by the keras-zip libFuzzer campaign: over 5 minutes
    /// in H5HG_read) is stopped by the child's CPU-time budget, here lowered to 2 s.
    func testAHangInsideLibhdf5IsStoppedByTheCPUBudget() throws {
        let file = "Fixtures/bad/hdf5_hang_fuzz.keras"
        let start = Date()
        let r = try modeltool(["info", file], environment: ["MODELTOOL_HDF5_CPU_SECONDS": "2"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "modeltool: \(file): malformed HDF5 file (the HDF5 library used more than 2 s of CPU time reading it)\n")
        // Generous: 2 s of CPU time on a loaded machine, and the start of two processes.
        XCTAssertLessThan(Date().timeIntervalSince(start), 120)
    }

    /// libhdf5 is opened (dlopen) only when an HDF5 file is read: an ONNX command never loads it,
    /// and without the library an HDF5 model or data set is a one-line error naming the file.
    func testLibhdf5IsOpenedOnlyForHDF5Files() throws {
        // The dynamic loader's own log of the files it opens (glibc's LD_DEBUG, on stderr).
        let onnx = try modeltool(["info", "Fixtures/models/lenet.onnx"], environment: ["LD_DEBUG": "files"])
        XCTAssertEqual(onnx.status, 0, onnx.stderr)
        XCTAssertTrue(onnx.stderr.contains("file=libopenblas"), "LD_DEBUG gave no log: \(onnx.stderr.prefix(300))")
        XCTAssertFalse(onnx.stderr.contains("libhdf5"), "an ONNX command loaded libhdf5")
        // In process: the isolated reader's child discards its stderr.
        let keras = try modeltool(["info", "Fixtures/keras/k2_zoo.h5"],
                                  environment: ["LD_DEBUG": "files", "MODELTOOL_HDF5_IN_PROCESS": "1"])
        XCTAssertEqual(keras.status, 0)
        XCTAssertTrue(keras.stderr.contains("libhdf5"), "reading a .h5 did not open libhdf5")

        let missing = ["MODELTOOL_LIBHDF5": "/nonexistent/libhdf5.so"]
        XCTAssertEqual(try modeltool(["info", "Fixtures/models/lenet.onnx"], environment: missing).status, 0)
        let model = try modeltool(["info", "Fixtures/keras/k2_zoo.h5"], environment: missing)
        XCTAssertEqual(model.status, 1)
        XCTAssertTrue(model.stderr.hasPrefix("modeltool: Fixtures/keras/k2_zoo.h5: MODELTOOL_LIBHDF5 cannot be opened: "), model.stderr)
        XCTAssertEqual(model.stderr.filter { $0 == "\n" }.count, 1, model.stderr)
        let data = try modeltool(["eval", "Fixtures/models/lenet.onnx", "--data", "Fixtures/keras/k2_zoo.h5",
                                  "--labels", "Fixtures/fashion-mnist/labels.npy"], environment: missing)
        XCTAssertEqual(data.status, 1)
        XCTAssertTrue(data.stderr.hasPrefix("modeltool: Fixtures/keras/k2_zoo.h5: MODELTOOL_LIBHDF5 cannot be opened: "), data.stderr)
        // A library that is not libhdf5 (zlib, which every build links) is refused by name.
        let wrong = try modeltool(["info", "Fixtures/keras/k2_zoo.h5"], environment: ["MODELTOOL_LIBHDF5": "libz.so.1"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.hasPrefix("modeltool: Fixtures/keras/k2_zoo.h5: libz.so.1 lacks H5open; modeltool was built against libhdf5 "),
                      wrong.stderr)
    }
}
