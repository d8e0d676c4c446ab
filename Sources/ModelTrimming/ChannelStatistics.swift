import ModelIR

/// Per-channel statistics of one observed tensor (usually a ReLU output), the input of the
/// trimming pass. Index c is channel c along axis 1, or along the last axis with `channelsLast`.
public struct ChannelStatistics: Sendable, Equatable {
    /// Average Percentage of Zeros of each channel, in 0...1.
    public var apoz: [Double]
    /// Mean value of each channel, used to compensate removed channels in their consumers' biases.
    public var mean: [Double]
    /// Whether the channels were counted along the tensor's last axis.
    public var channelsLast: Bool

    public init(apoz: [Double], mean: [Double], channelsLast: Bool = false) {
        self.apoz = apoz
        self.mean = mean
        self.channelsLast = channelsLast
    }

    /// Whether these statistics were counted along the axis on which `map` holds its channels.
    func matches(_ map: ChannelMap) -> Bool {
        switch map.kind {
        case .channels: return !channelsLast
        case .channelsLast: return channelsLast
        case .features: return false
        }
    }

    /// Checks that both arrays have `channels` entries and that every APoZ is a fraction.
    func validate(channels: Int, tensor: String) throws {
        guard apoz.count == channels, mean.count == channels else {
            throw ModelError("statistics for '\(tensor)' have \(apoz.count) APoZ and \(mean.count) mean values, the tensor has \(channels) channels")
        }
        if let bad = apoz.first(where: { !($0 >= 0 && $0 <= 1) }) {
            throw ModelError("statistics for '\(tensor)' hold APoZ \(bad), outside 0...1")
        }
    }
}
