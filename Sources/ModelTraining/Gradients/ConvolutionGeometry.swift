import ModelIR
import ModelRuntime

/// The geometry of a 1-D or 2-D convolution window, as the forward kernel read it from the node:
/// kernel, strides, dilations and the padding before each axis (auto_pad resolved). 1-D
/// convolutions are 2-D ones of height 1.
struct ConvolutionGeometry {
    var channels: Int, height: Int, width: Int
    var outHeight: Int, outWidth: Int
    var kernelH: Int, kernelW: Int
    var strideH: Int, strideW: Int
    var dilationH: Int, dilationW: Int
    var padTop: Int, padLeft: Int
    /// Padding after each axis (pooling divisors read it).
    var padBottom = 0, padRight = 0

    /// Rows of one image's column matrix: channels × kernel taps.
    var columnRows: Int { channels * kernelH * kernelW }
    var outPositions: Int { outHeight * outWidth }

    /// The window attributes of `node` (Conv, ConvTranspose, MaxPool, AveragePool) for an input
    /// of spatial size `input` (1 or 2 axes) whose window positions number `output`. For
    /// ConvTranspose, pass the transposed view: `input` is Y's size, `output` X's.
    static func window(_ node: Node, kernel: [Int], input: [Int], output: [Int], channels: Int,
                       transposed: Bool = false) throws -> ConvolutionGeometry {
        let r = input.count
        guard r == 1 || r == 2, kernel.count == r, output.count == r else {
            throw ModelError("only 1-D and 2-D windows can be trained (got \(r)-D)")
        }
        let attributes = try WindowAttributes(node)
        let strides = attributes.strides(rank: r), dilations = attributes.dilations(rank: r)
        var begin = [Int](repeating: 0, count: r), end = begin
        switch attributes.autoPad {
        case .sameUpper, .sameLower:
            for k in 0..<r {
                // The window positions (`output`) are the smaller side; for ConvTranspose they are X.
                let (smaller, larger) = (output[k], input[k])
                // The forward's total padding for this axis: what makes `smaller` windows cover
                // `larger` (for ConvTranspose, output_padding adds to the output's end).
                let extra = transposed ? attributes.outputPadding.map { $0[k] } ?? 0 : 0
                let t = max(0, (smaller - 1) * strides[k] + (kernel[k] - 1) * dilations[k] + 1 + extra - larger)
                begin[k] = attributes.autoPad == .sameUpper ? t / 2 : t - t / 2
                end[k] = t - begin[k]
            }
        case .valid:
            break
        case .notSet:
            if let pads = attributes.pads {
                guard pads.count == 2 * r else { throw ModelError("pads \(pads) do not fit a \(r)-D window") }
                begin = Array(pads.prefix(r))
                end = Array(pads.suffix(r))
            }
        }
        guard strides.count == r, dilations.count == r else { throw ModelError("strides or dilations do not fit a \(r)-D window") }
        let two = { (v: [Int], fill: Int) in r == 1 ? [fill] + v : v }
        let i = two(input, 1), o = two(output, 1), kk = two(kernel, 1), s = two(strides, 1), d = two(dilations, 1)
        let p = two(begin, 0), e = two(end, 0)
        return ConvolutionGeometry(channels: channels, height: i[0], width: i[1], outHeight: o[0], outWidth: o[1],
                                   kernelH: kk[0], kernelW: kk[1], strideH: s[0], strideW: s[1],
                                   dilationH: d[0], dilationW: d[1], padTop: p[0], padLeft: p[1],
                                   padBottom: e[0], padRight: e[1])
    }

    /// The output columns `lo..<hi` at which tap `kx` reads inside a row (0 ≤ ix < width), and
    /// the input column `ox · strideW + offset` it reads there: rows are then copied without a
    /// bounds check per element, and contiguously when the stride is 1.
    @inline(__always)
    func validColumns(_ kx: Int) -> (lo: Int, hi: Int, offset: Int) {
        let offset = kx * dilationW - padLeft
        let lo = min(outWidth, offset >= 0 ? 0 : (strideW - 1 - offset) / strideW)
        let last = width - 1 - offset
        let hi = last < 0 ? lo : max(lo, min(outWidth, last / strideW + 1))
        return (lo, hi, offset)
    }

    /// Columns of one image's `channels` planes: row (c, ky, kx), column (oy, ox) holds the input
    /// element the tap reads at that output position (0 in the padding). Rows are `rowStride`
    /// apart (default `outPositions`), so that several images' columns can sit side by side.
    func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
        let plane = height * width, ld = rowStride ?? outPositions
        var row = 0
        for c in 0..<channels {
            let xc = x + c * plane
            for ky in 0..<kernelH {
                for kx in 0..<kernelW {
                    let out = cols + row * ld
                    let (lo, hi, offset) = validColumns(kx)
                    for oy in 0..<outHeight {
                        let iy = oy * strideH - padTop + ky * dilationH
                        let line = out + oy * outWidth
                        guard iy >= 0 && iy < height && lo < hi else {
                            line.initialize(repeating: 0, count: outWidth)
                            continue
                        }
                        if lo > 0 { line.initialize(repeating: 0, count: lo) }
                        if hi < outWidth { (line + hi).initialize(repeating: 0, count: outWidth - hi) }
                        let xr = xc + iy * width + offset
                        if strideW == 1 {
                            (line + lo).update(from: xr + lo, count: hi - lo)
                        } else {
                            for ox in lo..<hi { line[ox] = xr[ox * strideW] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each column entry back onto the input element it was read
    /// from. `x` is not cleared first.
    func col2im(_ cols: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
        let plane = height * width, ld = rowStride ?? outPositions
        var row = 0
        for c in 0..<channels {
            let xc = x + c * plane
            for ky in 0..<kernelH {
                for kx in 0..<kernelW {
                    let col = cols + row * ld
                    let (lo, hi, offset) = validColumns(kx)
                    for oy in 0..<outHeight where lo < hi {
                        let iy = oy * strideH - padTop + ky * dilationH
                        guard iy >= 0 && iy < height else { continue }
                        let xr = xc + iy * width + offset, line = col + oy * outWidth
                        if strideW == 1 {
                            for ox in lo..<hi { xr[ox] += line[ox] }
                        } else {
                            for ox in lo..<hi { xr[ox * strideW] += line[ox] }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}
