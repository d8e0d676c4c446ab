import FileIO
import Foundation
import ModelFormats
import ModelIR

/// Model file formats, chosen from the file extension unless the caller names one.
public enum ModelFormat: String, CaseIterable, Sendable {
    case onnx
    /// Keras legacy HDF5 (full model, or weights only with a separate config).
    case h5
    /// Keras 3 zip (config.json + model.weights.h5).
    case keras

    /// The format a file name's extension names, if any.
    public init?(path: String) {
        let lower = path.lowercased()
        if lower.hasSuffix(".onnx") { self = .onnx } else if lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") {
            self = .h5
        } else if lower.hasSuffix(".keras") { self = .keras } else { return nil }
    }

    /// `override`, or the format of `path`'s extension; throws when neither says.
    public static func of(_ path: String, override: ModelFormat? = nil) throws -> ModelFormat {
        if let override { return override }
        guard let f = ModelFormat(path: path) else {
            throw ModelError("\(path): cannot tell the format from the extension; use --format (\(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return f
    }
}

/// Opening and saving models in every supported format; every write is atomic.
public enum ModelFile {
    /// Reads a model in any supported format. `kerasConfig` is the to_json() file for a weights-only
    /// Keras file; `nchwInput` gives a Keras model a channels-first input instead of Keras's own.
    public static func open(_ path: String, format: ModelFormat? = nil, kerasConfig: String? = nil,
                            nchwInput: Bool = false) throws -> Model {
        switch try ModelFormat.of(path, override: format) {
        case .onnx: return try ONNXReader.read(path: path)
        // HDF5 is parsed in a child process once the CLI enables it: libhdf5 can crash on a hostile file.
        case .h5, .keras: return try IsolatedHDF5.readKeras(path: path, configPath: kerasConfig, nchwInput: nchwInput)
        }
    }

    /// Writes `model` to `path` in `format` (default: from the extension) and returns the warnings
    /// worth showing. `externalData` applies to ONNX. With `keepingTrainingStateOf`, a legacy .h5
    /// keeps that file's training_config and the optimizer weights that still fit the new widths.
    @discardableResult
    public static func save(_ model: Model, to path: String, format: ModelFormat? = nil,
                            externalData: ExternalDataPolicy = .asRead,
                            keepingTrainingStateOf source: String? = nil) throws -> [String] {
        switch try ModelFormat.of(path, override: format) {
        case .onnx:
            let report = try ONNXWriter.write(model, to: path, externalData: externalData)
            guard report.externalizedAutomatically else { return [] }
            return ["the model exceeds protobuf's 2 GB limit; its weights were written to \(report.externalDataPath ?? "")"]
        case .h5:
            if let source { return try KerasWriter.rewriteLegacyH5(model, keepingTrainingStateOf: source, to: path) }
            try KerasWriter.write(model, to: path, as: .legacyH5)
            return []
        case .keras:
            try KerasWriter.write(model, to: path, as: .kerasZip)
            return []
        }
    }

    /// Keeps the file at `path` as `path.bak`. An ONNX backup is rewritten (losslessly) from
    /// `model`, the model read from `path`, with its own external-data file, so it never shares
    /// PATH.data with a model written to `path` afterwards; other formats are copied.
    public static func backUp(_ model: Model, readFrom path: String, format: ModelFormat) throws {
        let backup = path + ".bak"
        if format == .onnx {
            try ONNXWriter.write(model, to: backup)
            return
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError("\(path): cannot read it to back it up") }
        try AtomicFile.write([UInt8](data), to: backup)
    }
}
