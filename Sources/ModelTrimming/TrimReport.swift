import ModelIR

/// The figures of a trim: one row per group, then parameters and MACs before and after.
public struct TrimReport: Sendable, Equatable {
    public struct Row: Sendable, Equatable, Encodable {
        public var group: Int
        public var layers: [String]
        public var selected: Bool
        public var channelsBefore: Int
        public var channelsAfter: Int
        public var meanAPoZ: Double?
        public var threshold: Double?
        public var removed: [Int]
        /// Why the group cannot be trimmed; empty when it can.
        public var barriers: [String]
    }

    public var rows: [Row]
    public var paramsBefore: Int
    public var paramsAfter: Int
    public var macsBefore: Int
    public var macsAfter: Int
    /// The input shapes MACs were counted for (empty: the file's shapes, batch 1).
    public var inputShapes: [String: [Int]]
    public var notes: [TrimNote]

    /// Parameters before / after (the paper's compression rate); 1 when nothing was removed.
    public var compressionRate: Double { paramsAfter == 0 ? 0 : Double(paramsBefore) / Double(paramsAfter) }

    /// Totals from ModelIR's profile at batch 1, with `inputShapes` bound (the shape of the samples
    /// the statistics came from, so a model with dynamic height and width gets concrete MACs).
    /// For a dry run pass the plan's own model twice only if no rewrite is wanted;
    /// `TrimResult.report` compares the original and the trimmed model.
    public init(plan: TrimPlan, trimmed: Model?, notes: [TrimNote] = [], inputShapes: [String: [Int]] = [:]) throws {
        rows = plan.groups.map { g in
            Row(group: g.group.id, layers: g.layers, selected: g.selected, channelsBefore: g.channelsBefore,
                channelsAfter: g.channelsAfter, meanAPoZ: g.meanAPoZ, threshold: g.threshold, removed: g.removed,
                barriers: g.group.barriers)
        }
        let before = try plan.analysis.model.profileTotals(inputShapes: inputShapes)
        let after = try (trimmed ?? plan.analysis.model).profileTotals(inputShapes: inputShapes)
        paramsBefore = before.params
        macsBefore = before.macs
        paramsAfter = after.params
        macsAfter = after.macs
        self.inputShapes = inputShapes
        self.notes = notes
    }
}

extension TrimResult {
    /// The report comparing the original and the trimmed model.
    /// With `inputShapes`, MACs are counted for those input shapes (see `Model.binding(inputShapes:)`).
    public func report(inputShapes: [String: [Int]] = [:]) throws -> TrimReport {
        try TrimReport(plan: plan, trimmed: model, notes: notes, inputShapes: inputShapes)
    }
}

/// The whole pass in one call.
public enum Trimmer {
    /// Analyses `model`, plans with `statistics` (keyed by observed tensor) and `options`, and,
    /// unless `dryRun`, rewrites. A dry run returns the plan and a report with unchanged totals.
    public static func trim(_ model: Model, statistics: [String: ChannelStatistics], options: TrimOptions = TrimOptions(),
                            dryRun: Bool = false) throws -> (plan: TrimPlan, result: TrimResult?) {
        let analysis = try ChannelAnalysis(model: model, allowOutputChange: options.allowOutputChange)
        let plan = try TrimPlan(analysis: analysis, statistics: statistics, options: options)
        return (plan, dryRun ? nil : try plan.apply())
    }
}
