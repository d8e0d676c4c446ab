/// How stored samples are laid out.
public enum DataLayout: String, CaseIterable, Sendable {
    /// Channels first (`[C, H, W]` per sample): the model's own layout.
    case nchw
    /// Channels last (`[H, W, C]` per sample): transposed to channels first on read.
    case nhwc
}

/// Per-batch conversion of stored values to the model's input:
/// `y = (x * scale - mean[c]) / std[c]`, applied after any NHWC-to-NCHW transpose,
/// with `c` the channel (first axis of the model's sample).
public struct Preprocessing: Equatable, Sendable {
    /// Multiplier applied first, e.g. `1/255`; nil means 1.
    public var scale: Float?
    /// Per-channel mean (one value, or one per channel); nil means 0.
    public var mean: [Float]?
    /// Per-channel standard deviation (one value, or one per channel); nil means 1.
    public var std: [Float]?
    /// The stored layout of each sample (an image folder's samples are always channels first).
    public var layout: DataLayout
    /// How an image folder's files become samples (before the steps above); unused for arrays.
    public var images: ImageFolderOptions

    /// Creates a preprocessing; the default leaves values unchanged.
    public init(scale: Float? = nil, mean: [Float]? = nil, std: [Float]? = nil, layout: DataLayout = .nchw,
                images: ImageFolderOptions = ImageFolderOptions()) {
        self.scale = scale
        self.mean = mean
        self.std = std
        self.layout = layout
        self.images = images
    }

    /// True when values pass through unchanged.
    var isIdentity: Bool { scale == nil && mean == nil && std == nil }

    /// Per-channel `(multiplier, offset)` so that `y = x * multiplier + offset`; checks the counts.
    func affine(channels: Int, name: String) throws -> [(Float, Float)] {
        for (label, values) in [("mean", mean), ("std", std)] {
            if let values, values.count != 1, values.count != channels {
                throw DatasetError(name, "\(label) has \(values.count) values but the model's samples have \(channels) channels")
            }
        }
        if let std, let bad = std.first(where: { $0 == 0 || !$0.isFinite }) {
            throw DatasetError(name, "std must be finite and non-zero, got \(bad)")
        }
        let s = scale ?? 1
        return (0..<channels).map { c in
            let m = mean.map { $0.count == 1 ? $0[0] : $0[c] } ?? 0
            let d = std.map { $0.count == 1 ? $0[0] : $0[c] } ?? 1
            return (s / d, -m / d)
        }
    }
}

/// Applies `y = x * a[c] + b[c]` in place to `samples` samples of `affine.count * inner` values.
func applyAffine(_ values: UnsafeMutablePointer<Float>, samples: Int, inner: Int, _ affine: [(Float, Float)]) {
    var p = values
    for _ in 0..<samples {
        for (a, b) in affine {
            for i in 0..<inner { p[i] = p[i] * a + b }
            p += inner
        }
    }
}

/// Transposes `samples` samples from `[spatial, channels]` to `[channels, spatial]`.
func transposeToChannelsFirst(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
                              samples: Int, spatial: Int, channels: Int) {
    let size = spatial * channels
    for n in 0..<samples {
        let from = source + n * size, to = destination + n * size
        for s in 0..<spatial {
            for c in 0..<channels { to[c * spatial + s] = from[s * channels + c] }
        }
    }
}
