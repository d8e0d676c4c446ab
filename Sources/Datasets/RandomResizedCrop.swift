import Foundation

/// torchvision's `RandomResizedCrop` for training on an image folder: a random region of
/// `scale` of the image's area and aspect ratio (log-uniform) in `ratio` is cut out and resized
/// to the sample size, with the transform's interpolation. Ten tries, then the centre crop at
/// the nearest allowed ratio, as torchvision does.
///
/// Each draw is a function of the seed, the sample index and how many times that sample was
/// read before, so a run is reproducible whatever the thread count.
public struct RandomResizedCrop: Equatable, Sendable {
    public var seed: UInt64
    public var scale: ClosedRange<Double>
    public var ratio: ClosedRange<Double>

    public init(seed: UInt64, scale: ClosedRange<Double> = 0.08...1, ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3)) {
        self.seed = seed
        self.scale = scale
        self.ratio = ratio
    }

    /// The region (top, left, height, width) for draw `draw` of sample `index` of a
    /// `height` × `width` image.
    func region(index: Int, draw: Int, height: Int, width: Int) -> (top: Int, left: Int, height: Int, width: Int) {
        var state = seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(draw) &* 0xC2B2_AE3D_27D4_EB4F)
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        func uniform(_ range: ClosedRange<Double>) -> Double {
            range.lowerBound + (range.upperBound - range.lowerBound) * Double(next() >> 11) / Double(1 << 53)
        }
        let area = Double(height * width)
        let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
        for _ in 0..<10 {
            let target = area * uniform(scale)
            let aspect = exp(uniform(logRatio))
            let w = Int((target * aspect).squareRoot().rounded())
            let h = Int((target / aspect).squareRoot().rounded())
            if w > 0, w <= width, h > 0, h <= height {
                let top = Int(next() % UInt64(height - h + 1)), left = Int(next() % UInt64(width - w + 1))
                return (top, left, h, w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var (h, w) = (height, width)
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded())
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded())
        }
        return ((height - h) / 2, (width - w) / 2, h, w)
    }
}

extension ImageTransform {
    /// Cuts `region` out of `image` (after the colour conversion) and resizes it to
    /// `height` × `width`, channels first into `destination`.
    func applyCrop(_ image: DecodedImage, region: (top: Int, left: Int, height: Int, width: Int),
                   height: Int, width: Int, into destination: UnsafeMutablePointer<Float>) {
        let channels = color.channels
        let pixels = color == .gray ? grayscale(image.pixels) : image.pixels
        var cut = [UInt8](repeating: 0, count: region.height * region.width * channels)
        for y in 0..<region.height {
            let from = ((region.top + y) * image.width + region.left) * channels
            cut.replaceSubrange((y * region.width * channels)..<((y + 1) * region.width * channels),
                                with: pixels[from..<(from + region.width * channels)])
        }
        if (region.height, region.width) != (height, width) {
            cut = resample(cut, channels: channels, width: region.width, height: region.height, newWidth: width,
                           newHeight: height, filter: interpolation)
        }
        writeChannelsFirst(cut, channels: channels, width: width, top: 0, left: 0, sourceHeight: height,
                           height: height, outWidth: width, into: destination)
    }
}
