/// Image resampling written to give Pillow's `Image.resize` results for 8-bit images: separable
/// filters whose support widens by the scale when shrinking (antialiasing), weights in 22-bit
/// fixed point, a horizontal pass then a vertical pass, each rounded and clipped to 8 bits.
/// Nearest neighbour takes the source pixel under each output pixel's centre.
func resample(_ pixels: [UInt8], channels: Int, width: Int, height: Int, newWidth: Int, newHeight: Int,
              filter: ImageTransform.Interpolation) -> [UInt8] {
    if filter == .nearest {
        return nearest(pixels, channels: channels, width: width, height: height, newWidth: newWidth, newHeight: newHeight)
    }
    var result = pixels
    var currentWidth = width
    if newWidth != width {
        let taps = Taps(inSize: width, outSize: newWidth, filter: filter)
        result = pass(result, taps: taps, lines: height, channels: channels, horizontal: true, inWidth: width)
        currentWidth = newWidth
    }
    if newHeight != height {
        let taps = Taps(inSize: height, outSize: newHeight, filter: filter)
        result = pass(result, taps: taps, lines: currentWidth, channels: channels, horizontal: false, inWidth: currentWidth)
    }
    return result
}

private let precisionBits: Int32 = 32 - 8 - 2

/// For each output position: the first input position, the number of taps and their fixed-point
/// weights (`width` slots per position).
private struct Taps {
    var first: [Int] = []
    var counts: [Int] = []
    var weights: [Int32] = []
    let width: Int

    init(inSize: Int, outSize: Int, filter: ImageTransform.Interpolation) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = (filter == .bicubic ? 2.0 : 1.0) * filterScale
        width = Int(support.rounded(.up)) * 2 + 1
        let unit = Double(1 << precisionBits)
        for out in 0..<outSize {
            let center = (Double(out) + 0.5) * scale
            // Pillow truncates toward zero here (a C cast), then clamps.
            let low = max(0, Int(center - support + 0.5))
            let high = min(inSize, Int(center + support + 0.5))
            var raw = [Double]()
            var total = 0.0
            if high > low {
                for x in low..<high {
                    let w = kernel((Double(x) - center + 0.5) / filterScale, filter)
                    raw.append(w)
                    total += w
                }
            }
            if total != 0 { raw = raw.map { $0 / total } }
            first.append(low)
            counts.append(raw.count)
            var slots = raw.map { Int32($0 < 0 ? (-0.5 + $0 * unit) : (0.5 + $0 * unit)) }
            slots += [Int32](repeating: 0, count: width - slots.count)
            weights += slots
        }
    }
}

private func kernel(_ x: Double, _ filter: ImageTransform.Interpolation) -> Double {
    let x = abs(x)
    switch filter {
    case .bilinear:
        return x < 1 ? 1 - x : 0
    case .bicubic:
        let a = -0.5
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    case .nearest:
        return x < 0.5 ? 1 : 0
    }
}

/// Rounds a fixed-point sum (with its half already added) to 8 bits, as Pillow's clip8.
@inline(__always) private func clip8(_ sum: Int32) -> UInt8 {
    let v = sum >> precisionBits
    return v < 0 ? 0 : v > 255 ? 255 : UInt8(v)
}

/// One separable pass. `lines` is the number of rows (horizontal) or columns (vertical) of the
/// input; `inWidth` the input row length in pixels. Sums are 32-bit, as in Pillow.
private func pass(_ input: [UInt8], taps: Taps, lines: Int, channels: Int, horizontal: Bool, inWidth: Int) -> [UInt8] {
    let outSize = taps.first.count
    let outWidth = horizontal ? outSize : inWidth
    let outHeight = horizontal ? lines : outSize
    var output = [UInt8](repeating: 0, count: outWidth * outHeight * channels)
    let half = Int32(1) << (precisionBits - 1)
    input.withUnsafeBufferPointer { src in
        output.withUnsafeMutableBufferPointer { dst in
            taps.weights.withUnsafeBufferPointer { weights in
                let src = src.baseAddress!, dst = dst.baseAddress!
                if horizontal {
                    for line in 0..<lines {
                        let row = src + line * inWidth * channels
                        let outRow = dst + line * outWidth * channels
                        for out in 0..<outSize {
                            let w = weights.baseAddress! + out * taps.width
                            let from = row + taps.first[out] * channels
                            let n = taps.counts[out]
                            if channels == 3 {
                                // The three channels of a pixel in one walk over the taps.
                                var (r, g, b) = (half, half, half)
                                for k in 0..<n {
                                    let p = from + 3 * k, wk = w[k]
                                    r &+= Int32(p[0]) &* wk
                                    g &+= Int32(p[1]) &* wk
                                    b &+= Int32(p[2]) &* wk
                                }
                                outRow[3 * out] = clip8(r)
                                outRow[3 * out + 1] = clip8(g)
                                outRow[3 * out + 2] = clip8(b)
                            } else {
                                for c in 0..<channels {
                                    var sum = half
                                    for k in 0..<n { sum &+= Int32(from[k * channels + c]) &* w[k] }
                                    outRow[out * channels + c] = clip8(sum)
                                }
                            }
                        }
                    }
                } else {
                    // Whole rows at a time: each tap adds one weighted input row to the sums, so the
                    // inner loop runs over contiguous bytes (the sums are the same as Pillow's).
                    let rowLength = inWidth * channels
                    let sums = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, rowLength))
                    defer { sums.deallocate() }
                    for out in 0..<outSize {
                        let w = weights.baseAddress! + out * taps.width
                        let from = src + taps.first[out] * rowLength
                        let outRow = dst + out * rowLength
                        sums.update(repeating: half, count: rowLength)
                        for k in 0..<taps.counts[out] {
                            let input = from + k * rowLength, wk = w[k]
                            for x in 0..<rowLength { sums[x] &+= Int32(input[x]) &* wk }
                        }
                        for x in 0..<rowLength { outRow[x] = clip8(sums[x]) }
                    }
                }
            }
        }
    }
    return output
}

/// Pillow's NEAREST resize (an affine scale): the source pixel at (x + 0.5) × in / out, with the
/// position accumulated step by step in double precision as Pillow does, so that ties land alike.
private func nearest(_ pixels: [UInt8], channels: Int, width: Int, height: Int, newWidth: Int, newHeight: Int) -> [UInt8] {
    func positions(_ inSize: Int, _ outSize: Int) -> [Int] {
        let step = Double(inSize) / Double(outSize)
        var position = step * 0.5
        return (0..<outSize).map { _ in
            defer { position += step }
            return min(inSize - 1, Int(position))
        }
    }
    var output = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
    let xs = positions(width, newWidth)
    for (y, sy) in positions(height, newHeight).enumerated() {
        for (x, sx) in xs.enumerated() {
            for c in 0..<channels { output[(y * newWidth + x) * channels + c] = pixels[(sy * width + sx) * channels + c] }
        }
    }
    return output
}
