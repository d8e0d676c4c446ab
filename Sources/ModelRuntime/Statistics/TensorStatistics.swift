/// Per-channel activation statistics of one observed tensor (channel axis 1).
///
/// Counts are exact integers; APoZ of channel c is `zeros[c] / positions[c]`, where positions
/// count every element of the channel over all samples (N·M), non-finite ones included.
public struct TensorStatistics: Codable, Sendable, Equatable {
    /// The observed tensor.
    public var tensor: String
    /// The node that produced it and its op type.
    public var node: String
    public var op: String
    /// The layers whose output channels these are (see `ObservationPoint.producers`).
    public var producers: [ObservationPoint.Layer]
    public var channels: Int
    /// Exact zeros (+0 and -0) per channel.
    public var zeros: [UInt64]
    /// Elements seen per channel: samples × positions per sample.
    public var positions: [UInt64]
    /// NaN or ±infinity per channel: neither zero nor part of the sums.
    public var nonFinite: [UInt64]
    /// Sum of the finite activations per channel.
    public var sums: [Double]
    /// Sum of their squares per channel.
    public var sumsOfSquares: [Double]

    public init(point: ObservationPoint, zeros: [UInt64], positions: [UInt64], nonFinite: [UInt64],
                sums: [Double], sumsOfSquares: [Double]) {
        tensor = point.tensor
        node = point.node
        op = point.op
        producers = point.producers
        channels = zeros.count
        self.zeros = zeros
        self.positions = positions
        self.nonFinite = nonFinite
        self.sums = sums
        self.sumsOfSquares = sumsOfSquares
    }

    /// APoZ per channel (0 for a channel with no positions).
    public var apoz: [Double] {
        zip(zeros, positions).map { z, p in p > 0 ? Double(z) / Double(p) : 0 }
    }

    /// Mean activation per channel over its finite values.
    public var means: [Double] {
        (0..<channels).map { c in
            let n = positions[c] - nonFinite[c]
            return n > 0 ? sums[c] / Double(n) : 0
        }
    }

    /// Standard deviation of the activation per channel (population form, over finite values).
    public var standardDeviations: [Double] {
        (0..<channels).map { c in
            let n = Double(positions[c] - nonFinite[c])
            guard n > 0 else { return 0 }
            let mean = sums[c] / n
            return (max(0, sumsOfSquares[c] / n - mean * mean)).squareRoot()
        }
    }

    /// Non-finite values over all channels.
    public var totalNonFinite: UInt64 { nonFinite.reduce(0, &+) }

    /// Checks that every per-channel array has `channels` entries and counts are consistent.
    func validate(in file: String) throws {
        let lengths = [zeros.count, positions.count, nonFinite.count, sums.count, sumsOfSquares.count]
        guard channels >= 0, lengths.allSatisfy({ $0 == channels }) else {
            throw StatisticsError("\(file): tensor '\(tensor)' declares \(channels) channels but its arrays have \(lengths.map(String.init).joined(separator: "/")) entries")
        }
        for c in 0..<channels where zeros[c] > positions[c] || nonFinite[c] > positions[c] || zeros[c] + nonFinite[c] > positions[c] {
            throw StatisticsError("\(file): tensor '\(tensor)' channel \(c) counts more zeros or non-finite values than positions")
        }
    }
}

/// The APoZ distribution of one observed tensor over its channels, as the paper reports it.
public struct ApozSummary: Codable, Sendable, Equatable {
    public var mean: Double
    /// Population standard deviation of the channels' APoZ.
    public var std: Double
    public var min: Double
    public var max: Double
    /// Channels whose APoZ is above mean + 1·std (the paper's trimming criterion).
    public var aboveMeanPlusStd: Int

    public init(apoz: [Double]) {
        let n = Double(Swift.max(1, apoz.count))
        mean = apoz.reduce(0, +) / n
        let m = mean
        std = (apoz.reduce(0) { $0 + ($1 - m) * ($1 - m) } / n).squareRoot()
        min = apoz.min() ?? 0
        max = apoz.max() ?? 0
        let threshold = mean + std
        aboveMeanPlusStd = apoz.filter { $0 > threshold }.count
    }
}
