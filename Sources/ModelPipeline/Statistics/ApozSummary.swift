import ModelRuntime
import ModelTrimming

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
        let spread = MeanPlusStd(apoz)
        mean = spread.mean
        std = spread.std
        min = apoz.min() ?? 0
        max = apoz.max() ?? 0
        let threshold = spread.threshold()
        aboveMeanPlusStd = apoz.filter { $0 > threshold }.count
    }

    /// The paper's threshold, mean + 1·std: channels above it are the ones trimming removes.
    public var threshold: Double { MeanPlusStd(mean: mean, std: std).threshold() }
}
