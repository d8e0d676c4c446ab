import Datasets
import ModelIR
import ModelRuntime

/// A model's outputs over a data set, rows in sample order, and the files they are saved to.
public struct ModelOutputs {
    /// The graph outputs, in graph order.
    public var names: [String]
    public var samples: Int
    /// Per output, the shape of one sample's row.
    public var rowShapes: [String: [Int]]
    /// Per output, the float values of every row.
    public var values: [String: [Float]]
    public var seconds: Double
    /// Seconds per node, slowest first (when profiled).
    public var profile: [Interpreter.StepTime]

    /// Runs `model` over the first `settings.limit` samples of `data` and collects every output.
    public static func collect(model: Model, data: String, settings: DataSettings, profile: Bool = false,
                               progress: BatchProgress? = nil) throws -> ModelOutputs {
        let prepared = try PreparedRun(model: model, data: data, settings: settings)
        prepared.interpreter.profiling = profile
        let batches = try prepared.batches(selection: SampleSelection(limit: settings.limit))
        let names = model.graph.outputs.map(\.name)
        var collected = [String: [Float]]()
        var rowShape = [String: [Int]]()
        let seconds = try prepared.forEach(batches, progress: progress) { _, outputs in
            for name in names {
                guard let t = outputs[name] else { throw ModelError("output '\(name)' was not computed") }
                rowShape[name] = Array(t.shape.dropFirst())
                collected[name, default: []] += t.floats
            }
        }
        return ModelOutputs(names: names, samples: batches.range.count, rowShapes: rowShape, values: collected,
                            seconds: seconds, profile: prepared.interpreter.profile)
    }

    /// Per output, its full shape: samples first.
    public var shapes: [String: [Int]] { rowShapes.mapValues { [samples] + $0 } }

    /// Saves the outputs as float32: all in one archive when `path` ends in .npz, else a single
    /// output to `path` and each of several to PATH.<output>.npy. Returns the file of each output.
    public func write(to path: String) throws -> [String] {
        if path.hasSuffix(".npz") {
            try NpzWriter.write(to: path, arrays: names.map { name in
                NpzWriter.Array(name: name, shape: [samples] + (rowShapes[name] ?? []), values: values[name] ?? [])
            })
            return names.map { _ in path }
        }
        var files: [String] = []
        for name in names {
            let file = names.count == 1 ? path : path.removingSuffix(".npy") + ".\(safe(name)).npy"
            let shape = [samples] + (rowShapes[name] ?? [])
            let rows = values[name] ?? []
            try NpyWriter.write(to: file, shape: shape) { append in rows.withUnsafeBufferPointer(append) }
            files.append(file)
        }
        return files
    }

    /// An output name usable in a file name.
    private func safe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
    }
}

extension String {
    fileprivate func removingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
