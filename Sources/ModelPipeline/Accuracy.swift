import Datasets
import ModelIR
import ModelRuntime

/// Top-1 and top-k accuracy over batches of class scores, counted exactly.
///
/// Ties are broken as numpy's `argmax`/stable descending sort do: among equal scores the lower
/// class index ranks first, so results match a NumPy evaluation of the same outputs.
public struct TopKAccuracy: Sendable, Equatable {
    public let k: Int
    public private(set) var samples = 0
    public private(set) var top1Hits = 0
    public private(set) var topKHits = 0

    public init(k: Int) { self.k = max(1, k) }

    /// Adds one batch: `scores` holds `labels.count` rows of `classes` values.
    public mutating func add(scores: UnsafeBufferPointer<Float>, classes: Int, labels: [Int]) throws {
        guard classes > 0, scores.count == labels.count * classes else {
            throw ModelError("the model gives \(scores.count) scores for \(labels.count) labels; expected one row of class scores per sample")
        }
        for (row, label) in labels.enumerated() {
            guard label >= 0 && label < classes else {
                throw ModelError("label \(label) is outside the model's \(classes) classes")
            }
            let base = row * classes
            let target = scores[base + label]
            // Rank of the label: classes scoring higher, plus equal-scoring classes before it.
            var rank = 0
            for c in 0..<classes {
                let s = scores[base + c]
                if s > target || (s == target && c < label) { rank += 1 }
            }
            samples += 1
            if rank == 0 { top1Hits += 1 }
            if rank < k { topKHits += 1 }
        }
    }

    public var top1: Double { samples == 0 ? 0 : Double(top1Hits) / Double(samples) }
    public var topK: Double { samples == 0 ? 0 : Double(topKHits) / Double(samples) }
}

/// A classifier's accuracy over a labelled data set, with the time it took.
public struct Evaluation {
    public var accuracy: TopKAccuracy
    public var seconds: Double
    /// Samples per second.
    public var rate: Double { seconds > 0 ? Double(accuracy.samples) / seconds : 0 }
    /// Seconds per node, slowest first (when profiled).
    public var profile: [Interpreter.StepTime]

    /// Top-1/top-k accuracy of `model` over `data` (the first `settings.limit` samples) with one
    /// integer label per sample in `labels` (nil: an image folder's class folders). The model's
    /// first output gives the class scores.
    /// With `profile`, also the time spent in each node.
    public static func run(model: Model, data: String, labels: String?, top: Int, settings: DataSettings,
                           profile: Bool = false, progress: BatchProgress? = nil) throws -> Evaluation {
        let prepared = try PreparedRun(model: model, data: data, settings: settings)
        prepared.interpreter.profiling = profile
        guard labels != nil || prepared.reader.source is ImageFolderSource else {
            throw ModelError("\(data) carries no labels: give a labels file (only an image folder has its classes in it)")
        }
        let batches = try prepared.batches(selection: SampleSelection(limit: settings.limit), labels: labels)
        guard let outputName = model.graph.outputs.first?.name else { throw ModelError("the model has no outputs") }
        var accuracy = TopKAccuracy(k: top)
        let seconds = try prepared.forEach(batches, progress: progress) { batch, outputs in
            guard let scores = outputs[outputName], let batchLabels = batch.labels else { return }
            let rows = batchLabels.count
            try scores.withFloats { try accuracy.add(scores: $0, classes: rows > 0 ? $0.count / rows : 0, labels: batchLabels) }
        }
        return Evaluation(accuracy: accuracy, seconds: seconds, profile: prepared.interpreter.profile)
    }
}
