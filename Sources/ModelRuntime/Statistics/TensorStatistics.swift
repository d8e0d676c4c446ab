/// Per-channel activation statistics of one observed tensor (channel axis 1, or the last axis).
///
/// Counts are exact integers; APoZ of channel c is `zeros[c] / positions[c]`, where positions
/// count every element of the channel over all samples (N·M), non-finite ones included. For an
/// off-region point (`region` `.nonPositive`) `zeros` counts the values ≤ 0 of `input`, the
/// activation's input, at the same positions; the sums are always `tensor`'s.
public struct TensorStatistics: Codable, Sendable, Equatable {
    /// The observed tensor.
    public var tensor: String
    /// The node that produced it and its op type.
    public var node: String
    public var op: String
    /// The layers whose output channels these are (see `ObservationPoint.producers`).
    public var producers: [ObservationPoint.Layer]
    public var channels: Int
    /// What `zeros` counts; nil (files written before off regions existed) means `.zeros`.
    public var region: CountedRegion?
    /// For the off region, the activation's input whose values ≤ 0 `zeros` counts.
    public var input: String?
    /// True when the channels are the tensor's last axis (`ObservationPoint.channelsLast`); absent
    /// (nil) means axis 1.
    public var channelsLast: Bool?
    /// Exact zeros (+0 and -0) per channel, or the input's values ≤ 0 (see `region`).
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
        region = point.region
        input = point.input
        channelsLast = point.channelsLast ? true : nil
        channels = zeros.count
        self.zeros = zeros
        self.positions = positions
        self.nonFinite = nonFinite
        self.sums = sums
        self.sumsOfSquares = sumsOfSquares
    }

    /// What `zeros` counts, `.zeros` for files that do not say.
    public var countedRegion: CountedRegion { region ?? .zeros }

    /// APoZ per channel (0 for a channel with no positions): the share of zeros, or of
    /// positions in the activation's off region.
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
}
