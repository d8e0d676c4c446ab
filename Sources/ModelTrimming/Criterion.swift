/// Which channels of a layer are removed, from their APoZ scores.
public enum TrimCriterion: Sendable, Equatable {
    /// The paper's rule: APoZ above the layer's mean + k·std (population std); k = 1 by default.
    case meanPlusStd(k: Double)
    /// APoZ above an absolute threshold.
    case threshold(Double)
    /// The given share of channels with the highest APoZ (rounded down).
    case ratio(Double)

    public static let paper = TrimCriterion.meanPlusStd(k: 1)

    /// The channels to remove, and the APoZ threshold used (for `ratio`, the lowest removed score).
    /// `scores[c]` is nil for a channel without statistics, which is never removed. At most
    /// `channels - max(minKeep, 1)` channels are removed: the highest-scoring ones.
    public func select(scores: [Double?], minKeep: Int) -> (removed: [Int], threshold: Double?) {
        let scored = scores.enumerated().compactMap { c, s in s.map { (c, $0) } }
        guard !scored.isEmpty else { return ([], nil) }
        // Highest score first; ties go to the lower index, so the choice is deterministic.
        let ranked = scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        var chosen: [(Int, Double)]
        var threshold: Double?
        switch self {
        case .meanPlusStd(let k):
            let t = MeanPlusStd(scored.map(\.1)).threshold(k: k)
            threshold = t
            chosen = ranked.filter { $0.1 > t }
        case .threshold(let t):
            threshold = t
            chosen = ranked.filter { $0.1 > t }
        case .ratio(let r):
            let n = Swift.min(ranked.count, Swift.max(0, Int((r * Double(scores.count)).rounded(.down))))
            chosen = Array(ranked.prefix(n))
            threshold = chosen.last?.1
        }
        let limit = Swift.max(0, scores.count - Swift.max(minKeep, 1))
        chosen = Array(chosen.prefix(limit))
        return (chosen.map(\.0).sorted(), threshold)
    }
}

/// The paper's rule, computed here only: the mean and population standard deviation of a layer's
/// channel APoZ, and the threshold `mean + k·std` above which channels are removed. `info`'s summary
/// and plot mark channels with the same value the trimming pass uses.
public struct MeanPlusStd: Sendable, Equatable {
    public let mean: Double
    /// Population standard deviation.
    public let std: Double

    /// The spread of `values`; none give mean 0 and std 0.
    public init(_ values: [Double]) {
        let n = Double(Swift.max(1, values.count))
        let m = values.reduce(0, +) / n
        mean = m
        std = (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / n).squareRoot()
    }

    public init(mean: Double, std: Double) {
        self.mean = mean
        self.std = std
    }

    /// `mean + k·std` (the paper: k = 1).
    public func threshold(k: Double = 1) -> Double { mean + k * std }
}

/// Which coupled groups are trimmed.
public enum LayerSelection: Sendable, Equatable {
    /// The n prunable groups with the highest mean APoZ (the paper starts with a few layers).
    case top(Int)
    /// Every prunable group with statistics.
    case all
    /// The groups holding these layers (producer node names) or tensors (e.g. observed ReLU outputs).
    case named([String])
}

/// Options of the trimming pass.
public struct TrimOptions: Sendable, Equatable {
    public var criterion: TrimCriterion
    /// Never keep fewer channels than this in a group (at least 1 in any case).
    public var minKeep: Int
    public var layers: LayerSelection
    /// Fold removed channels' mean values into their consumers' biases.
    public var compensate: Bool
    /// Let channels reaching a graph output be removed.
    public var allowOutputChange: Bool

    public init(criterion: TrimCriterion = .paper, minKeep: Int = 1, layers: LayerSelection = .top(2),
                compensate: Bool = true, allowOutputChange: Bool = false) {
        self.criterion = criterion
        self.minKeep = minKeep
        self.layers = layers
        self.compensate = compensate
        self.allowOutputChange = allowOutputChange
    }
}
