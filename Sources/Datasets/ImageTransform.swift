/// How a decoded image is resized, cropped and converted before it becomes a sample, in
/// torchvision's order: colour conversion, resize, centre crop.
public struct ImageTransform: Equatable, Sendable {
    /// The target size of a resize.
    public enum Size: Equatable, Sendable {
        /// The shorter side becomes `n`, the longer keeps the aspect ratio (truncated, as torchvision does).
        case shorterSide(Int)
        /// Exactly `height` × `width`.
        case exact(height: Int, width: Int)
    }

    /// The resampling filter, with Pillow's definitions and antialiasing when shrinking.
    public enum Interpolation: String, CaseIterable, Sendable {
        case bilinear, bicubic, nearest
    }

    /// The channels of a sample.
    public enum Color: String, CaseIterable, Sendable {
        /// Red, green, blue.
        case rgb
        /// Blue, green, red (Keras's "caffe" models).
        case bgr
        /// One channel, Pillow's `convert("L")`: (299 R + 587 G + 114 B) / 1000.
        case gray

        var channels: Int { self == .gray ? 1 : 3 }
    }

    public var resize: Size?
    /// Side of the centre crop (after any resize); an image smaller than it is padded with zeros.
    public var crop: Int?
    public var interpolation: Interpolation
    public var color: Color

    public init(resize: Size? = nil, crop: Int? = nil, interpolation: Interpolation = .bilinear, color: Color = .rgb) {
        self.resize = resize
        self.crop = crop
        self.interpolation = interpolation
        self.color = color
    }

    /// The size (height, width) an image of `height` × `width` has after resizing.
    func resizedSize(height: Int, width: Int) -> (height: Int, width: Int) {
        switch resize {
        case nil: return (height, width)
        case .exact(let h, let w): return (h, w)
        case .shorterSide(let n):
            // torchvision: the long side is int(n * long / short), computed in floating point.
            // Clamped so that a hostile aspect ratio cannot trap the conversion to Int;
            // `checkedOutputSize` refuses such sizes.
            func long(_ a: Int, _ b: Int) -> Int { Int(min(Double(n) * Double(a) / Double(b), 1e15)) }
            if width <= height { return (long(height, width), n) }
            return (n, long(width, height))
        }
    }

    /// `outputSize`, refusing an image whose resized size would pass the decompression-bomb
    /// limit: `--resize 256` of a 1×100,000,000 PNG (a few kilobytes) asks for 25.6 G pixels.
    func checkedOutputSize(height: Int, width: Int, name: String) throws -> (height: Int, width: Int) {
        let resized = resizedSize(height: height, width: width)
        guard resized.height > 0, resized.width > 0, resized.width <= maxImagePixels / resized.height else {
            throw DatasetError(name, "is \(width)x\(height), which resizes to \(resized.width)x\(resized.height) pixels, more than the limit of \(maxImagePixels)")
        }
        return outputSize(height: height, width: width)
    }

    /// The size of the sample made from an image of `height` × `width`.
    func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        if let crop { return (crop, crop) }
        return resizedSize(height: height, width: width)
    }

    /// Turns a decoded image into a channels-first sample of 0...255 values in `destination`,
    /// which holds `color.channels × outputSize` floats.
    func apply(_ image: DecodedImage, into destination: UnsafeMutablePointer<Float>) {
        var planes = image.pixels
        let channels = color.channels
        if color == .gray { planes = grayscale(planes) }
        var (height, width) = (image.height, image.width)
        let target = resizedSize(height: height, width: width)
        if target != (height, width) {
            planes = resample(planes, channels: channels, width: width, height: height,
                              newWidth: target.width, newHeight: target.height, filter: interpolation)
            (height, width) = target
        }
        let (outHeight, outWidth) = outputSize(height: height, width: width)
        // torchvision's centre crop: pad with zeros when the image is smaller, then offsets
        // int(round((size - crop) / 2)), Python's round (half to even).
        let padTop = max(0, (outHeight - height) / 2), padLeft = max(0, (outWidth - width) / 2)
        let paddedHeight = max(height, outHeight), paddedWidth = max(width, outWidth)
        let top = Int((Double(paddedHeight - outHeight) / 2).rounded(.toNearestOrEven)) - padTop
        let left = Int((Double(paddedWidth - outWidth) / 2).rounded(.toNearestOrEven)) - padLeft
        writeChannelsFirst(planes, channels: channels, width: width, top: top, left: left, sourceHeight: height,
                           height: outHeight, outWidth: outWidth, into: destination)
    }

    /// Writes the `height` × `outWidth` window at (`top`, `left`) of interleaved `pixels`
    /// (`sourceHeight` × `width`) channels first, in this transform's channel order; outside
    /// the image is 0.
    func writeChannelsFirst(_ pixels: [UInt8], channels: Int, width: Int, top: Int, left: Int, sourceHeight: Int,
                            height outHeight: Int, outWidth: Int, into destination: UnsafeMutablePointer<Float>) {
        let order = color == .bgr ? [2, 1, 0] : Array(0..<channels)
        let plane = outHeight * outWidth
        for (c, sourceChannel) in order.enumerated() {
            let out = destination + c * plane
            for y in 0..<outHeight {
                let sy = y + top
                for x in 0..<outWidth {
                    let sx = x + left
                    out[y * outWidth + x] = sy >= 0 && sy < sourceHeight && sx >= 0 && sx < width
                        ? Float(pixels[(sy * width + sx) * channels + sourceChannel]) : 0
                }
            }
        }
    }
}

/// Pillow's RGB → L conversion, in its fixed point: (19595 R + 38470 G + 7471 B + 2^15) >> 16.
func grayscale(_ rgb: [UInt8]) -> [UInt8] {
    var gray = [UInt8](repeating: 0, count: rgb.count / 3)
    for i in gray.indices {
        let r = UInt32(rgb[3 * i]), g = UInt32(rgb[3 * i + 1]), b = UInt32(rgb[3 * i + 2])
        gray[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
    }
    return gray
}
