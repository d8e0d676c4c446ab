import Datasets
import Foundation
import ModelFormats
import ModelIR
import ModelRuntime
import ModelTraining

/// Random crop with zero padding and horizontal flip, seeded, for training batches only.
/// The padding is zero in the preprocessed values (for inputs scaled from pixels without a mean,
/// the same as torchvision's RandomCrop(padding:) with fill 0).
public struct Augmentation: Equatable, Sendable {
    public var cropPadding = 0
    public var flip = false
    /// torchvision's RandomResizedCrop (image folders only: it cuts the decoded image).
    public var resizedCrop = false

    public init(cropPadding: Int = 0, flip: Bool = false, resizedCrop: Bool = false) {
        (self.cropPadding, self.flip, self.resizedCrop) = (cropPadding, flip, resizedCrop)
    }

    /// Parses "crop=4,flip" or "resized-crop,flip" (each part optional; "none" for neither).
    public init(parsing text: String) throws {
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty && part != "none" {
            if part == "flip" {
                flip = true
            } else if part.hasPrefix("crop="), let p = Int(part.dropFirst(5)), p >= 0 {
                cropPadding = p
            } else if part == "crop" {
                cropPadding = 4
            } else if part == "resized-crop" {
                resizedCrop = true
            } else {
                throw ModelError("unknown augmentation '\(part)' (expected crop=N, resized-crop and/or flip)")
            }
        }
    }

    public var isIdentity: Bool { cropPadding == 0 && !flip }

    /// Applies the augmentation in place to `count` samples of `shape` ([C, H, W]).
    func apply(_ values: inout [Float], count: Int, shape: [Int], random: inout SplitMix64) {
        values.withUnsafeMutableBufferPointer { apply($0.baseAddress!, count: count, shape: shape, random: &random) }
    }

    /// Applies the augmentation in place to `count` samples of `shape` ([C, H, W]) at `values`.
    func apply(_ values: UnsafeMutablePointer<Float>, count: Int, shape: [Int], random: inout SplitMix64) {
        guard !isIdentity, shape.count == 3 else { return }
        let (c, h, w) = (shape[0], shape[1], shape[2])
        let plane = h * w
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plane)
        defer { scratch.deallocate() }
        for s in 0..<count {
            let p = cropPadding
            let dy = p > 0 ? Int(random.next() % UInt64(2 * p + 1)) - p : 0
            let dx = p > 0 ? Int(random.next() % UInt64(2 * p + 1)) - p : 0
            let mirror = flip && random.next() & 1 == 1
            guard dy != 0 || dx != 0 || mirror else { continue }
            for ch in 0..<c {
                let image = values + (s * c + ch) * plane
                scratch.update(from: image, count: plane)
                for y in 0..<h {
                    let sy = y + dy
                    for x in 0..<w {
                        let sx0 = x + dx
                        let sx = mirror ? w - 1 - (sx0) : sx0
                        image[y * w + x] = sy >= 0 && sy < h && sx0 >= 0 && sx0 < w ? scratch[sy * w + sx] : 0
                    }
                }
            }
        }
    }
}

/// What a fine-tuning run does.
public struct FineTuneSettings: Sendable {
    public var epochs = 1
    public var batchSize = 64
    public var optimizer = OptimizerSettings(kind: .sgd, momentum: 0.9)
    public var schedule = LearningRateSchedule(kind: .constant, baseRate: 0.01)
    public var augmentation = Augmentation()
    public var labelSmoothing: Float = 0
    public var seed: UInt64 = 0
    public var shuffle = true
    /// Train on the first `limit` samples only.
    public var limit: Int?
    public var validationLimit: Int?
    public var threads = 1
    /// Where this run sits in a longer schedule: its first epoch is epoch `startEpoch` of
    /// `totalEpochs` (nil: the schedule spans this run alone). `trim --schedule-span loop` uses it
    /// so that one schedule runs over every iteration's retraining.
    public var schedulePhase: (startEpoch: Int, totalEpochs: Int)?

    public init() {}
}

/// One epoch's figures.
public struct EpochReport: Codable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationAccuracy: Double?
    public var learningRate: Double
    public var seconds: Double
    public var imagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", trainAccuracy = "train_accuracy", validationAccuracy = "val_accuracy"
        case learningRate = "learning_rate", seconds, imagesPerSecond = "images_per_second"
    }
}

/// Progress within an epoch, for a progress bar.
public struct TrainingProgress: Sendable {
    public var epoch: Int, epochs: Int
    public var step: Int, steps: Int
    /// Mean loss and accuracy over the epoch's steps so far.
    public var loss: Double, accuracy: Double
    public var imagesPerSecond: Double
    /// Seconds since the epoch started.
    public var elapsed: Double
    /// Whether this is the validation pass after the epoch's training steps.
    public var validating: Bool
}

/// The outcome of a run: the model to keep (best validation accuracy, else the last epoch) and
/// the per-epoch table.
public struct FineTuneResult {
    public var model: Model
    public var epochs: [EpochReport]
    /// The epoch `model` comes from (1-based); 0 when no epoch ran.
    public var keptEpoch: Int
    public var trainedParameters: Int
    public var imagesPerSecond: Double
}

/// Fine-tunes a model on a labelled data set: seeded shuffled epochs streamed from any data set
/// format, augmentation, the optimizer and schedule of `settings`, validation after each epoch.
public final class FineTuner {
    public let settings: FineTuneSettings
    public private(set) var trainer: Trainer
    private let optimizer: Optimizer

    public init(model: Model, settings: FineTuneSettings) throws {
        self.settings = settings
        trainer = try Trainer(model: model, threads: settings.threads, seed: settings.seed,
                              loss: CrossEntropyLoss(labelSmoothing: settings.labelSmoothing))
        optimizer = Optimizer(settings.optimizer)
    }

    /// Runs every epoch over `train` (with `labels`), measuring top-1 accuracy on `validation`
    /// (files read with `train`'s preprocessing) after each.
    public func run(train: BatchReader, labels: SampleSource, validation: (data: String, labels: String?)? = nil,
                    progress: ((TrainingProgress) -> Void)? = nil,
                    epochDone: ((EpochReport) -> Void)? = nil) throws -> FineTuneResult {
        let total = min(settings.limit ?? train.source.count, train.source.count)
        guard total > 0 else { throw ModelError("\(train.source.name): no training samples") }
        guard labels.count == train.source.count else {
            throw ModelError("\(labels.name) has \(labels.count) labels for \(train.source.count) samples")
        }
        if settings.augmentation.resizedCrop {
            guard let images = train.source as? ImageFolderSource else {
                throw ModelError("\(train.source.name): resized-crop augmentation needs an image folder (it cuts the decoded images)")
            }
            images.randomResizedCrop = RandomResizedCrop(seed: settings.seed)
        }
        // Validation and later reads of the caller's reader see the plain transform again.
        defer { (train.source as? ImageFolderSource)?.randomResizedCrop = nil }
        let samples = settings.shuffle ? try SpooledSource.randomAccess(train.source) : train.source
        let reader = samples === train.source ? train
            : try BatchReader(source: samples, modelInput: [nil] + train.sampleShape.map { Optional($0) },
                              inputName: trainer.inputName, preprocessing: train.preprocessing)
        let allLabels = try labels.readLabels(start: 0, count: total)
        let batch = settings.batchSize
        let stepsPerEpoch = (total + batch - 1) / batch
        let firstEpoch = settings.schedulePhase?.startEpoch ?? 0
        let totalSteps = stepsPerEpoch * (settings.schedulePhase?.totalEpochs ?? settings.epochs)
        let per = reader.sampleElementCount
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: batch * per)
        defer { buffer.deallocate() }
        var random = SplitMix64(seed: settings.seed &+ 0x5EED)
        var reports: [EpochReport] = []
        var kept = trainer.exportModel(), keptEpoch = 0, bestAccuracy = -1.0
        var trainedImages = 0, trainingSeconds = 0.0
        for epoch in 0..<settings.epochs {
            var order = Array(0..<total)
            if settings.shuffle { order.shuffle(using: &random) }
            let started = Date()
            var lossSum = 0.0, correct = 0, seen = 0, rate = 0.0
            for step in 0..<stepsPerEpoch {
                let range = (step * batch)..<min(total, (step + 1) * batch)
                let n = range.count
                if settings.shuffle {
                    try reader.read(indices: Array(order[range]), into: buffer)
                } else {
                    try reader.read(start: range.lowerBound, count: n, into: buffer)
                }
                settings.augmentation.apply(buffer, count: n, shape: reader.sampleShape, random: &random)
                let input = try RuntimeTensor(shape: [n] + reader.sampleShape,
                                              copying: UnsafeBufferPointer(start: buffer, count: n * per))
                let result = try trainer.gradients(input: input, labels: order[range].map { allLabels[$0] })
                rate = Double(settings.schedule.rate(step: (firstEpoch + epoch) * stepsPerEpoch + step, totalSteps: totalSteps,
                                                     epoch: firstEpoch + epoch))
                try optimizer.step(trainer, result.gradients, learningRate: Float(rate))
                lossSum += result.loss * Double(n)
                correct += result.correct
                seen += n
                let elapsed = Date().timeIntervalSince(started)
                progress?(TrainingProgress(epoch: epoch + 1, epochs: settings.epochs, step: step + 1, steps: stepsPerEpoch,
                                           loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                                           imagesPerSecond: Double(seen) / max(elapsed, 1e-9), elapsed: elapsed, validating: false))
            }
            let seconds = Date().timeIntervalSince(started)
            trainedImages += seen
            trainingSeconds += seconds
            let model = trainer.exportModel()
            var accuracy: Double? = nil
            if let validation {
                progress?(TrainingProgress(epoch: epoch + 1, epochs: settings.epochs, step: stepsPerEpoch, steps: stepsPerEpoch,
                                           loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                                           imagesPerSecond: Double(seen) / max(seconds, 1e-9), elapsed: seconds, validating: true))
                let settings = DataSettings(batch: max(self.settings.batchSize, 64), limit: self.settings.validationLimit,
                                            preprocessing: train.preprocessing, threads: self.settings.threads)
                accuracy = try Evaluation.run(model: model, data: validation.data, labels: validation.labels, top: 1,
                                              settings: settings).accuracy.top1
            }
            reports.append(EpochReport(epoch: epoch + 1, trainLoss: lossSum / Double(seen),
                                       trainAccuracy: Double(correct) / Double(seen), validationAccuracy: accuracy,
                                       learningRate: rate, seconds: seconds, imagesPerSecond: Double(seen) / max(seconds, 1e-9)))
            epochDone?(reports.last!)
            if accuracy == nil || accuracy! > bestAccuracy {
                (kept, keptEpoch, bestAccuracy) = (model, epoch + 1, accuracy ?? -1)
            }
        }
        return FineTuneResult(model: kept, epochs: reports, keptEpoch: keptEpoch,
                              trainedParameters: trainer.trainedParameterCount,
                              imagesPerSecond: Double(trainedImages) / max(trainingSeconds, 1e-9))
    }
}

extension FineTuner {
    /// A reader of the data set at `path`, shaped for `model`'s single input.
    public static func reader(for model: Model, data path: String, preprocessing: Preprocessing) throws -> BatchReader {
        let fed = model.graph.runtimeInputs
        guard fed.count == 1, let input = fed.first else {
            throw ModelError("the model has \(fed.count) inputs; training feeds models with exactly one")
        }
        guard let shape = input.tensorType?.shape else { throw ModelError("the model's input '\(input.name)' has no declared shape") }
        return try BatchReader(source: try openSource(path: path, images: preprocessing.images),
                               modelInput: shape.dims.map(\.value), inputName: input.name,
                               preprocessing: preprocessing)
    }

    /// Writes a retrained model to `destination` in the format of `source` and returns the
    /// messages worth showing. A Keras file's optimizer state tracked the old weights and is
    /// not written.
    public static func save(_ model: Model, source: String, to destination: String) throws -> [String] {
        let format = try ModelFormat.of(source)
        var messages = try ModelFile.save(model, to: destination, format: format)
        if format != .onnx, KerasWriter.hasOptimizerState(source, readAs: model) {
            messages.append("the optimizer state in \(source) was not written to \(destination): it tracked the weights before fine-tuning")
        }
        return messages
    }
}
