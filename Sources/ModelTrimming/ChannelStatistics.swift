import ModelIR

/// Per-channel statistics of one observed tensor (usually a ReLU output), the input of the
/// trimming pass. Index c is channel c along axis 1.
public struct ChannelStatistics: Sendable, Equatable {
    /// Average Percentage of Zeros of each channel, in 0...1.
    public var apoz: [Double]
    /// Mean value of each channel, used to compensate removed channels in their consumers' biases.
    public var mean: [Double]

    public init(apoz: [Double], mean: [Double]) {
        self.apoz = apoz
        self.mean = mean
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
