import FileIO
import Foundation
import ModelIR
import ZIPFoundation

/// Writes an IR model as a Keras model: a Keras 2 legacy `.h5` (`model.save("m.h5")` layout, which
/// tf.keras and Keras 3 both load) or a Keras 3 `.keras` zip. The channels-first graph is mapped
/// back onto channels-last Keras layers (see `KerasExporter`); the Keras model takes and returns
/// channels-last tensors. Files are written atomically.
public enum KerasWriter {
    public enum Container: Sendable {
        /// Keras 2 legacy HDF5: `model_config`, `/model_weights/<layer>/<layer>/<weight>:0`.
        case legacyH5
        /// Keras 3 zip: config.json, metadata.json, model.weights.h5 (`layers/<snake_case>[_N]/vars/<i>`).
        case kerasZip
    }

    /// Writes `model` to `path`. Throws one error naming every node without a Keras equivalent.
    public static func write(_ model: Model, to path: String, as container: Container) throws {
        try model.graph.verify()
        let plan = try KerasExporter(model).plan()
        switch container {
        case .legacyH5: try writeLegacyH5(plan, to: path, trainingConfig: model.metadata.first { $0.key == "keras_training_config" }?.value)
        case .kerasZip: try writeZip(plan, to: path)
        }
    }

    /// The Keras 2 legacy layout. `training_config` is written only when the source had one.
    static func writeLegacyH5(_ plan: KerasModelPlan, to path: String, trainingConfig: String?,
                              extra: (H5Group) throws -> Void = { _ in }) throws {
        let config = try plan.keras2Config()
        try H5Group.create(path) { root in
            try root.setAttribute("model_config", string: config)
            try root.setAttribute("keras_version", string: KerasModelPlan.keras2Version)
            try root.setAttribute("backend", string: "tensorflow")
            if let trainingConfig { try root.setAttribute("training_config", string: trainingConfig) }
            let weights = try root.makeGroup("model_weights")
            try weights.setAttribute("keras_version", string: KerasModelPlan.keras2Version)
            try weights.setAttribute("backend", string: "tensorflow")
            try weights.setAttribute("layer_names", strings: plan.layers.map(\.name))
            for layer in plan.layers {
                let group = try weights.makeGroup(layer.name)
                try group.setAttribute("weight_names", strings: layer.weights.map { "\(layer.name)/\($0.name):0" })
                for w in layer.weights {
                    try group.writeFloats("\(layer.name)/\(w.name):0", dims: w.dims, values: w.values)
                }
            }
            try extra(root)
        }
    }

    /// The Keras 3 zip, stored uncompressed as Keras writes it.
    static func writeZip(_ plan: KerasModelPlan, to path: String) throws {
        let config = Data(try plan.keras3Config().utf8)
        let metadata = Data(try KerasModelPlan.text(["keras_version": KerasModelPlan.keras3Version,
                                                     "date_saved": dateSaved()]).utf8)
        let weights = try keras3Weights(plan, near: path)
        let archive: Archive
        do { archive = try Archive(data: Data(), accessMode: .create) } catch {
            throw ModelError("\(path): cannot create a zip archive in memory")
        }
        for (name, data) in [("metadata.json", metadata), ("config.json", config), ("model.weights.h5", weights)] {
            do {
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .none) { position, size in
                    data.subdata(in: Int(position)..<(Int(position) + size))
                }
            } catch {
                throw ModelError("\(path): cannot add \(name) to the archive")
            }
        }
        guard let bytes = archive.data else { throw ModelError("\(path): the archive has no data") }
        try AtomicFile.write([UInt8](bytes), to: path)
    }

    /// model.weights.h5: one `layers/<snake_case class>[_N]/vars` group per layer in `model.layers`
    /// order, its variables numbered 0, 1… (trainable first), with the layer name as `name` attribute.
    static func keras3Weights(_ plan: KerasModelPlan, near path: String) throws -> Data {
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let temp = "\(dir)/.\(UUID().uuidString).weights.h5"
        defer { unlink(temp) }
        try H5Group.create(temp) { root in
            var counters: [String: Int] = [:]
            for layer in plan.layers {
                let base = KerasWeightStore.snakeCase(layer.className)
                let n = counters[base, default: 0]
                counters[base] = n + 1
                let vars = try root.makeGroup("layers/\(n == 0 ? base : "\(base)_\(n)")/vars")
                try vars.setAttribute("name", string: layer.name)
                for (i, w) in layer.weights.enumerated() { try vars.writeFloats(String(i), dims: w.dims, values: w.values) }
            }
            let top = try root.makeGroup("vars")
            try top.setAttribute("name", string: plan.name)
        }
        guard let data = FileManager.default.contents(atPath: temp) else { throw ModelError("\(path): cannot read back model.weights.h5") }
        return data
    }

    private static func dateSaved() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd@HH:mm:ss"
        return f.string(from: Date())
    }
}
