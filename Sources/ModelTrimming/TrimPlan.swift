import ModelIR

/// The decision for one coupled group.
public struct GroupPlan: Sendable, Equatable {
    public var group: ChannelGroup
    /// Whether the layer selection picked this group.
    public var selected: Bool
    /// Observed tensors whose statistics scored the group.
    public var observedTensors: [String]
    /// Per channel: the lowest APoZ among the group's observation points (nil: not observed).
    public var scores: [Double?]
    /// Mean of the scores, the key of the default `top` selection.
    public var meanAPoZ: Double?
    /// APoZ above which channels go (for `ratio`: the lowest removed score).
    public var threshold: Double?
    /// Removed channels, in group numbering, ascending.
    public var removed: [Int]

    public var layers: [String] { group.producers }
    public var channelsBefore: Int { group.channels }
    public var channelsAfter: Int { group.channels - removed.count }
}

/// What the pass will do: a decision per group. `TrimPlan.apply()` performs it.
public struct TrimPlan: Sendable {
    public let analysis: ChannelAnalysis
    public let options: TrimOptions
    public let statistics: [String: ChannelStatistics]
    public var groups: [GroupPlan]
    /// Statistics that could not be used, and similar remarks, one line each.
    public var notes: [TrimNote]

    /// Removed channels by group id.
    public var removed: [Int: Set<Int>] {
        Dictionary(uniqueKeysWithValues: groups.filter { !$0.removed.isEmpty }.map { ($0.group.id, Set($0.removed)) })
    }

    /// Scores every group from `statistics` (keyed by observed tensor name), selects the groups
    /// `options.layers` asks for and applies the criterion to each. In a coupled group a channel
    /// is scored by its lowest APoZ among the observation points: it must be useless everywhere.
    public init(analysis: ChannelAnalysis, statistics: [String: ChannelStatistics], options: TrimOptions = TrimOptions()) throws {
        self.analysis = analysis
        self.options = options
        self.statistics = statistics
        var notes: [TrimNote] = []
        var scores = analysis.groups.map { [Double?](repeating: nil, count: $0.channels) }
        var observed = analysis.groups.map { _ in [String]() }
        for name in statistics.keys.sorted() {
            let stats = statistics[name]!
            guard let map = analysis.map(name) else {
                notes.append(TrimNote("statistics for '\(name)'", "not used: the tensor carries no trimmable channels"))
                continue
            }
            guard stats.matches(map) else {
                let why: String
                switch map.kind {
                case .features: why = "the tensor holds flattened features"
                case .channelsLast: why = "its channels are the last axis, but the statistics were counted along axis 1"
                case .channels: why = "they were counted along the last axis, but the tensor's channels are axis 1"
                }
                notes.append(TrimNote("statistics for '\(name)'", "not used: \(why)"))
                continue
            }
            try stats.validate(channels: map.channelCount, tensor: name)
            for (p, e) in map.channelEntries.enumerated() {
                scores[e.group][e.channel] = Swift.min(scores[e.group][e.channel] ?? .infinity, stats.apoz[p])
                // Only this iteration appends `name`, and only `name`: it is listed iff it is last
                // (a `contains` here was quadratic for a group observed at thousands of tensors).
                if observed[e.group].last != name { observed[e.group].append(name) }
            }
        }
        var plans = analysis.groups.map { g -> GroupPlan in
            let s = scores[g.id].compactMap { $0 }
            return GroupPlan(group: g, selected: false, observedTensors: observed[g.id], scores: scores[g.id],
                             meanAPoZ: s.isEmpty ? nil : s.reduce(0, +) / Double(s.count), threshold: nil, removed: [])
        }
        // A group whose channels some layer reads unobserved (a linear projection added in after
        // the observation points) cannot be judged by them: it is kept, with the reason.
        for (g, why) in ObservedCoverage.unobservedReads(analysis, observed: Set(observed.joined()))
        where !observed[g].isEmpty && plans[g].group.isPrunable {
            plans[g].group.barriers.append(why)
        }
        for id in try TrimPlan.select(options.layers, plans, analysis) {
            let (removed, threshold) = options.criterion.select(scores: plans[id].scores, minKeep: options.minKeep)
            plans[id].selected = true
            plans[id].removed = removed
            plans[id].threshold = threshold
        }
        self.groups = plans
        self.notes = notes
        try checkNothingEmptied()
    }

    static func select(_ selection: LayerSelection, _ plans: [GroupPlan], _ analysis: ChannelAnalysis) throws -> [Int] {
        let candidates = plans.filter { $0.group.isPrunable && $0.meanAPoZ != nil }
        switch selection {
        case .all:
            return candidates.map(\.group.id)
        case .top(let n):
            let ranked = candidates.sorted { ($0.meanAPoZ!, -$0.group.id) > ($1.meanAPoZ!, -$1.group.id) }
            return ranked.prefix(Swift.max(0, n)).map(\.group.id)
        case .named(let names):
            var ids: [Int] = []
            for name in names {
                guard let plan = plans.first(where: { $0.group.producers.contains(name) })
                        ?? plans.first(where: { $0.group.tensors.contains(name) && $0.group.producers.isEmpty == false }) else {
                    throw ModelError("no trimmable layer or tensor is named '\(name)'")
                }
                guard plan.group.isPrunable else {
                    throw ModelError("layer '\(name)' cannot be trimmed: \(plan.group.barriers.joined(separator: "; "))")
                }
                guard plan.meanAPoZ != nil else { throw ModelError("layer '\(name)' has no statistics") }
                if !ids.contains(plan.group.id) { ids.append(plan.group.id) }
            }
            return ids
        }
    }

    /// Refuses a plan that would leave any tensor without channels (a Split part, for example).
    func checkNothingEmptied() throws {
        let removed = self.removed
        guard !removed.isEmpty else { return }
        for (name, map) in analysis.maps.sorted(by: { $0.key < $1.key }) where map.kept(removed).isEmpty {
            throw ModelError("the plan would remove every channel of '\(name)'; raise minKeep or trim fewer layers")
        }
    }
}
