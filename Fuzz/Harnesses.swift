import CZlibSystem
import Datasets
import Foundation
import ModelFormats
import ModelIR

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer harnesses, one per parser of untrusted bytes (built and run by Tools/fuzz.sh). A
/// harness must never crash: every malformed input has to end in a thrown error.
enum Harnesses {
    static let all: [String: (UnsafeRawBufferPointer) -> Void] = [
        "onnx": onnx, "keras-config": kerasConfig, "npy": { dataset($0, suffix: ".npy") },
        "idx": { dataset($0, suffix: ".idx") }, "idx-gz": idxGzip, "npz": { dataset($0, suffix: ".npz") },
        "keras-zip": kerasZip, "jpeg": jpeg, "png": png, "apoz-stats": apozStats,
    ]

    /// Protobuf decoding, our decoder, verify() (in read) and shape inference.
    static func onnx(_ bytes: UnsafeRawBufferPointer) {
        guard let model = try? ONNXReader.read(bytes: Array(bytes)) else { return }
        _ = try? model.graph.inferShapes(opset: model.defaultOpset)
    }

    /// The Keras config JSON and the mapping of its layers to a graph, on a weights file whose
    /// layers have no weights of the fuzzed names (weights-only Keras 2 file of the fixtures).
    static func kerasConfig(_ bytes: UnsafeRawBufferPointer) {
        let config = scratch("config.json", bytes)
        _ = try? KerasReader.read(path: fixture("Fixtures/keras/k2_weights_only.h5"), configPath: config)
    }

    /// A .keras zip (config.json, metadata.json, model.weights.h5).
    static func kerasZip(_ bytes: UnsafeRawBufferPointer) {
        _ = try? KerasReader.read(path: scratch("model.keras", bytes))
    }

    /// A dataset file: open it, then read every sample (bounded to 4096 samples).
    static func dataset(_ bytes: UnsafeRawBufferPointer, suffix: String) {
        readAll(scratch("data" + suffix, bytes))
    }

    /// The input as a gzipped IDX file: deflate's framing is zlib's job, so the fuzzed bytes are
    /// the IDX content, gzipped here.
    static func idxGzip(_ bytes: UnsafeRawBufferPointer) {
        let path = scratch("data.idx.gz", UnsafeRawBufferPointer(start: nil, count: 0))
        guard let gz = gzopen(path, "wb") else { return }
        _ = gzwrite(gz, bytes.baseAddress, UInt32(bytes.count))
        gzclose(gz)
        readAll(path)
    }

    private static func readAll(_ path: String) {
        guard let source = try? openSource(path: path) else { return }
        let count = min(source.count, 4096)
        let elements = source.sampleElementCount
        guard elements > 0, elements <= 1 << 20 else { return }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: elements * 16)
        defer { buffer.deallocate() }
        var start = 0
        while start < count {
            let n = min(16, count - start)
            guard (try? source.read(start: start, count: n, into: buffer)) != nil else { return }
            start += n
        }
    }

    static func fixture(_ relative: String) -> String {
        (ProcessInfo.processInfo.environment["MODELTOOL_ROOT"] ?? FileManager.default.currentDirectoryPath) + "/" + relative
    }

    /// Writes the input to a fixed file in a private scratch folder (in memory when /dev/shm exists).
    static func scratch(_ name: String, _ bytes: UnsafeRawBufferPointer) -> String {
        let path = scratchFolder + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if fd >= 0 {
            if let base = bytes.baseAddress, bytes.count > 0 { _ = write(fd, base, bytes.count) }
            close(fd)
        }
        return path
    }

    static let scratchFolder: String = {
        let root = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = "\(root)/modeltool-fuzz-\(getpid())"
        mkdir(dir, 0o700)
        return dir
    }()
}
