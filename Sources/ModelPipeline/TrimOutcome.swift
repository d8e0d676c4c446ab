import ModelTrimming

/// What a trim session did: the plan per group, the sizes before and after, and what was written
/// and checked. `modeltool trim` prints it as text or JSON.
public struct TrimOutcome: Encodable {
    public struct Group: Encodable {
        public var group: Int
        public var layers: [String]
        public var selected: Bool
        public var channelsBefore: Int
        public var channelsAfter: Int
        public var meanAPoZ: Double?
        public var threshold: Double?
        public var removed: [Int]
        public var barriers: [String]
    }

    /// The model file trimmed.
    public var model: String
    /// Where the APoZ came from: the statistics file or the data measured on.
    public var statistics: String
    public var samples: UInt64
    public var groups: [Group]
    public var paramsBefore: Int
    public var paramsAfter: Int
    public var macsBefore: Int
    public var macsAfter: Int
    public var compressionRate: Double
    public var notes: [String]
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
        groups = report.rows.map {
            Group(group: $0.group, layers: $0.layers, selected: $0.selected, channelsBefore: $0.channelsBefore,
                  channelsAfter: $0.channelsAfter, meanAPoZ: $0.meanAPoZ, threshold: $0.threshold, removed: $0.removed,
                  barriers: $0.barriers)
        }
        paramsBefore = report.paramsBefore
        paramsAfter = report.paramsAfter
        macsBefore = report.macsBefore
        macsAfter = report.macsAfter
        compressionRate = report.compressionRate
        notes = report.notes + plan.notes
    }
}
