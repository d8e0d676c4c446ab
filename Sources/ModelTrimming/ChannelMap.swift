/// A run of consecutive channels of one coupled group, as they appear along a tensor's channel axis.
struct Segment: Equatable, Sendable {
    var group: Int
    /// Channels of the group, in group numbering.
    var range: Range<Int>
}

/// How the positions along a tensor's channel axis relate to the channels of coupled groups.
///
/// Most tensors hold one group's channels in order. A Concat output holds several segments; a
/// Split output part of one. Flattening turns each channel into a block of features.
struct ChannelMap: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        /// NCHW-style: channels along axis 1.
        case channels
        /// NHWC after Transpose(0,2,3,1): channels along the last axis of a rank-4 tensor with
        /// `spatial` = H·W positions in front. Only element-wise ops, Reshape and Flatten accept it.
        case channelsLast(spatial: Int)
        /// A flattened [N, F] tensor: channel c's features are c·S…(c+1)·S-1 (channel-major) or
        /// s·C + c for every s (channels-last, as tf2onnx emits).
        case features(spatial: Int, channelsLast: Bool)
    }

    var segments: [Segment]
    var kind: Kind

    init(segments: [Segment], kind: Kind = .channels) {
        self.segments = segments
        self.kind = kind
    }

    /// The axis the positions run along, for a tensor of `rank`.
    func axis(rank: Int) -> Int {
        if case .channelsLast = kind { return rank - 1 }
        return 1
    }

    /// Number of channels (not features).
    var channelCount: Int { segments.reduce(0) { $0 + $1.range.count } }

    /// The (group, channel) each channel position holds, in order.
    var channelEntries: [(group: Int, channel: Int)] {
        segments.flatMap { s in s.range.map { (s.group, $0) } }
    }

    /// The (group, channel) each position along the axis holds (features expand channels).
    var positions: [(group: Int, channel: Int)] {
        let entries = channelEntries
        switch kind {
        case .channels, .channelsLast: return entries
        case .features(let s, let channelsLast):
            if channelsLast { return (0..<s).flatMap { _ in entries } }
            return entries.flatMap { e in Array(repeating: e, count: s) }
        }
    }

    /// Positions whose channel is kept when `removed[group]` holds the removed channels.
    func kept(_ removed: [Int: Set<Int>]) -> [Int] {
        positions.enumerated().compactMap { p, e in removed[e.group]?.contains(e.channel) == true ? nil : p }
    }

    var positionCount: Int {
        switch kind {
        case .channels, .channelsLast: return channelCount
        case .features(let s, _): return channelCount * s
        }
    }

    /// Segments covering channel positions `range` of this map.
    func segments(in range: Range<Int>) -> [Segment] {
        var out: [Segment] = []
        var offset = 0
        for s in segments {
            let lo = Swift.max(range.lowerBound, offset), hi = Swift.min(range.upperBound, offset + s.range.count)
            if lo < hi {
                out.append(Segment(group: s.group, range: (s.range.lowerBound + lo - offset)..<(s.range.lowerBound + hi - offset)))
            }
            offset += s.range.count
        }
        return out
    }

    func renamed(_ f: (Int) -> Int) -> ChannelMap {
        ChannelMap(segments: segments.map { Segment(group: f($0.group), range: $0.range) }, kind: kind)
    }
}
