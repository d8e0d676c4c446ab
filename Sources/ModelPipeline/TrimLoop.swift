import Datasets
import ModelIR
import ModelTrimming

/// The paper's iterative loop on one model file: measure APoZ on validation data → trim → measure
/// accuracy ("initial accuracy") → fine-tune → measure accuracy again, repeated.
public struct TrimLoopRequest {
    /// Validation samples and labels: APoZ and accuracy are measured on them.
    public var validation: (data: String, labels: String?)
    /// Training samples and labels for the fine-tuning (nil labels: an image folder's classes).
    public var training: (data: String, labels: String?)
    public var iterations: Int
    public var options: TrimOptions
    public var fineTune: FineTuneSettings
    /// Stop once accuracy after fine-tuning falls more than this many points (0–100) below the
    /// original, keeping the last model within the budget.
    public var maxAccuracyDrop: Double?
    /// One learning-rate schedule over every iteration's retraining (a cosine anneals once, across
    /// the loop) instead of a fresh schedule per iteration.
    public var scheduleSpansLoop = false
    public var output: String?
    public var backup = false

    public init(validation: (data: String, labels: String?), training: (data: String, labels: String?), iterations: Int,
                options: TrimOptions, fineTune: FineTuneSettings, maxAccuracyDrop: Double? = nil, output: String? = nil,
                backup: Bool = false) {
        self.validation = validation
        self.training = training
        self.iterations = iterations
        self.options = options
        self.fineTune = fineTune
        self.maxAccuracyDrop = maxAccuracyDrop
        self.output = output
        self.backup = backup
    }
}

/// One row of the paper's table.
public struct TrimIteration: Encodable {
    public var iteration: Int
    /// The trimmed groups: layers and widths before → after.
    public var groups: [TrimReport.Row]
    public var paramsBefore: Int
    public var paramsAfter: Int
    /// Original parameters over the parameters now.
    public var compressionRate: Double
    /// Top-1 right after the trim, before retraining (the paper's "initial accuracy").
    public var accuracyTrimmed: Double
    /// Top-1 after fine-tuning.
    public var accuracyFineTuned: Double
    public var epochs: [EpochReport]
    /// False for the iteration that broke --max-accuracy-drop (its model is not kept).
    public var withinBudget: Bool
}

/// The whole loop's outcome.
public struct TrimLoopOutcome: Encodable {
    public var model: String
    public var paramsOriginal: Int
    public var accuracyOriginal: Double
    public var iterations: [TrimIteration]
    /// Iterations whose model was kept (the last one within budget).
    public var keptIterations: Int
    public var paramsFinal: Int
    public var compressionRate: Double
    public var accuracyFinal: Double
    /// Why the loop stopped before its last iteration, if it did.
    public var stopped: String?
    public var written: String?
}

extension TrimSession {
    /// Runs `request.iterations` rounds of trim → fine-tune on `model`, then writes the last model
    /// within the accuracy budget. `iterationDone` sees each row as it is finished.
    /// `started` sees the original model's parameters and accuracy before the first iteration.
    public func runLoop(_ request: TrimLoopRequest, started: ((_ params: Int, _ accuracy: Double) -> Void)? = nil,
                        fineTuneProgress: ((TrainingProgress) -> Void)? = nil,
                        iterationDone: ((TrimIteration) -> Void)? = nil) throws -> TrimLoopOutcome {
        let original = model
        let (valData, valLabels) = request.validation
        let accuracyOriginal = try accuracy(of: original, data: valData, labels: valLabels)
        let paramsOriginal = try original.profileTotals().params
        started?(paramsOriginal, accuracyOriginal)
        var outcome = TrimLoopOutcome(model: modelFile, paramsOriginal: paramsOriginal, accuracyOriginal: accuracyOriginal,
                                      iterations: [], keptIterations: 0, paramsFinal: paramsOriginal, compressionRate: 1,
                                      accuracyFinal: accuracyOriginal)
        for round in 1...max(1, request.iterations) {
            let statistics = try measureApoz(on: valData)
            for warning in statistics.warnings { warn(warning) }
            let plan = try plan(statistics, options: request.options)
            let result = try rewrite(plan)
            let report = try result.report(inputShapes: inputShapes)
            guard report.paramsAfter < report.paramsBefore else {
                outcome.stopped = "iteration \(round): no channel is above the criterion any more"
                break
            }
            let trimmedAccuracy = try accuracy(of: result.model, data: valData, labels: valLabels)
            var fineTune = request.fineTune
            fineTune.seed &+= UInt64(round - 1)
            if request.scheduleSpansLoop {
                let epochs = fineTune.epochs
                fineTune.schedulePhase = ((round - 1) * epochs, max(1, request.iterations) * epochs)
            }
            let tuner = try FineTuner(model: result.model, settings: fineTune)
            let training = try FineTuner.reader(for: result.model, data: request.training.data,
                                                preprocessing: settings.preprocessing)
            guard let trainingLabels = try openLabels(request.training.labels, for: training.source) else {
                throw ModelError("\(request.training.data) carries no labels: give a labels file")
            }
            let tuned = try tuner.run(train: training, labels: trainingLabels,
                                      progress: fineTuneProgress)
            let tunedAccuracy = try accuracy(of: tuned.model, data: valData, labels: valLabels)
            let within = request.maxAccuracyDrop.map { 100 * (accuracyOriginal - tunedAccuracy) <= $0 } ?? true
            let row = TrimIteration(iteration: round, groups: report.rows.filter(\.selected), paramsBefore: report.paramsBefore,
                                    paramsAfter: report.paramsAfter,
                                    compressionRate: Double(paramsOriginal) / Double(max(report.paramsAfter, 1)),
                                    accuracyTrimmed: trimmedAccuracy, accuracyFineTuned: tunedAccuracy, epochs: tuned.epochs,
                                    withinBudget: within)
            outcome.iterations.append(row)
            iterationDone?(row)
            guard within else {
                outcome.stopped = String(format: "iteration %d: accuracy %.2f%% is more than %.2f points below the original %.2f%%",
                                         round, 100 * tunedAccuracy, request.maxAccuracyDrop!, 100 * accuracyOriginal)
                break
            }
            model = tuned.model
            outcome.keptIterations = round
            outcome.paramsFinal = report.paramsAfter
            outcome.accuracyFinal = tunedAccuracy
        }
        outcome.compressionRate = Double(paramsOriginal) / Double(max(outcome.paramsFinal, 1))
        if outcome.keptIterations > 0 {
            let trimmed = model
            model = original
            outcome.written = try write(trimmed, to: request.output, backup: request.backup)
            model = trimmed
        }
        return outcome
    }
}
