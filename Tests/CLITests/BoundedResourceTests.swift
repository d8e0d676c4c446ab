import Foundation
import XCTest

/// Hostile archives are refused from their declared sizes, before anything large is inflated.
final class BoundedResourceTests: XCTestCase {
    private func assertRefused(_ arguments: [String], file: String, containing expected: String,
                               line: UInt = #line) throws {
        let r = try modeltool(arguments)
        XCTAssertEqual(r.status, 1, r.stderr, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("modeltool: \(file)"), r.stderr, line: line)
        XCTAssertTrue(r.stderr.contains(expected), r.stderr, line: line)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr, line: line)
    }

    func testKerasZipBombs() throws {
        let lying = "Fixtures/bad/zip_bomb_lying_size.keras"
        try assertRefused(["info", lying], file: lying, containing: "config.json inflates past its declared 100 bytes")
        let declared = "Fixtures/bad/zip_bomb_declared.keras"
        try assertRefused(["info", declared], file: declared,
                          containing: "config.json claims 2147483647 bytes from 4 compressed bytes, which deflate cannot produce")
    }

    func testNpzZipBomb() throws {
        let npz = "Fixtures/bad/zip_bomb_declared.npz"
        try assertRefused(["eval", "Fixtures/models/lenet.onnx", "--data", npz, "--labels", "Fixtures/fashion-mnist/labels.npy"],
                          file: npz, containing: "deflate cannot produce")
    }

    /// HDF5 headers that declare more data than the file holds.
    func testHDF5HeadersCannotAskForHugeAllocations() throws {
        // A never-written 40,000 × 40,000 kernel in a 40 KB file is refused from its declared shape,
        // in process as well as in the isolated reader.
        let sparse = "Fixtures/bad/hdf5_sparse_dataset.h5"
        let declared = "dataset '/model_weights/fc/fc/kernel:0' declares [40000, 40000] elements, more than its 40120-byte file can hold"
        try assertRefused(["info", sparse], file: sparse, containing: declared)
        let inProcess = try modeltool(["info", sparse], environment: ["MODELTOOL_HDF5_IN_PROCESS": "1"])
        XCTAssertEqual(inProcess.stderr, "modeltool: \(sparse): \(declared)\n")
        // keras-zip fuzz input: a string attribute whose stored length makes libhdf5 itself ask for
        // 1 GiB (2.1 GB resident) while converting it. The isolated reader's memory cap makes that
        // malloc fail, and libhdf5 reports a read error; without the cap the read would succeed and
        // the import would stop later, at the layer's missing weights.
        let oom = "Fixtures/bad/hdf5_oom_fuzz.keras"
        try assertRefused(["info", oom], file: oom, containing: "attribute 'name' of '/layers/concatenate/vars' cannot be read")
    }

    /// Findings of the libFuzzer harnesses (Tools/fuzz.sh), kept as regression tests.
    func testFuzzFindingsStayFixed() throws {
        // keras-config: a Conv2D with strides [0, 2] divided by zero while mapping the layer.
        try assertRefused(["info", "Fixtures/keras/k2_weights_only.h5", "--config", "Fixtures/bad/fuzz_keras_zero_stride.json"],
                          file: "Fixtures/keras/k2_weights_only.h5", containing: "layer 'stem': strides [0, 2] must be between 1 and 65536")
        // keras-config: a Concatenate along axis 0 (the batch) indexed the shape without the batch at -1.
        try assertRefused(["info", "Fixtures/keras/k2_weights_only.h5", "--config", "Fixtures/bad/fuzz_keras_concat_batch_axis.json"],
                          file: "Fixtures/keras/k2_weights_only.h5", containing: "cannot concatenate along the batch axis")
        // idx and idx-gz: 17 dimensions, the first 0, the rest multiplying past Int.max: the
        // sample size overflowed once the (empty) file was accepted.
        let idx = "Fixtures/bad/fuzz_idx_overflowing_sample.idx"
        try assertRefused(["eval", "Fixtures/models/lenet.onnx", "--data", idx, "--labels", "Fixtures/fashion-mnist/labels.npy"],
                          file: idx, containing: "header claims shape [0,")
    }
}
