import ModelTrimming

/// What a trim session did: the plan per group, the sizes before and after, and what was written
/// and checked. `modeltool trim` prints it as text or JSON.
public struct TrimOutcome: Encodable {
    /// The model file trimmed.
    public var model: String
    /// Where the APoZ came from: the statistics file or the data measured on.
    public var statistics: String
    public var samples: UInt64
    /// One row per coupled group: selected or not, channels before and after, why it is kept.
    public var groups: [TrimReport.Row]
    public var paramsBefore: Int
    public var paramsAfter: Int
    public var macsBefore: Int
    public var macsAfter: Int
    /// The input shapes the MACs were counted for: one sample of the data (empty when no data was read).
    public var macsInputShapes: [String: [Int]]
    public var compressionRate: Double
    public var notes: [TrimNote]
    /// The file written (nil for a dry run).
    public var written: String?
    /// The largest output difference between the model and the written file read back.
    public var maxDeviation: Double?
    /// Top-1 accuracy before and after, when labels were given.
    public var accuracyBefore: Double?
    public var accuracyAfter: Double?
    public var dryRun = false

    public init(model: String, plan: TrimPlan, report: TrimReport, statistics: String, samples: UInt64) {
        self.model = model
        self.statistics = statistics
        self.samples = samples
        groups = report.rows
        paramsBefore = report.paramsBefore
        paramsAfter = report.paramsAfter
        macsBefore = report.macsBefore
        macsAfter = report.macsAfter
        macsInputShapes = report.inputShapes
        compressionRate = report.compressionRate
        // The report of a written model already holds the plan's notes.
        notes = report.notes + plan.notes.filter { !report.notes.contains($0) }
    }
}
