import ModelIR
import ModelRuntime

/// Gradients of MaxPool, AveragePool (1-D and 2-D) and the global pools. MaxPool sends each
/// output's gradient to the first largest element of its window, as the forward kernel picks it.
enum PoolingGradients {
    static let maxPool = GradientRule.differentiable { g in
        guard g.wants(0) else { return [nil] }
        let x = try g.input(0), y = g.outputs[0], dy = try g.grad()
        let geo = try geometry(g.node, x, y)
        let dx = try g.floats(x.shape)
        let planes = x.shape[0] * x.shape[1], inPlane = geo.height * geo.width, outPlane = geo.outPositions
        let xp = x.floatPointer, dyp = dy.floatPointer, dxp = dx.floatPointer
        let (kh, kw, width, height) = (geo.kernelH, geo.kernelW, geo.width, geo.height)
        let (sh, sw, dh, dw) = (geo.strideH, geo.strideW, geo.dilationH, geo.dilationW)
        RuntimeParallel.chunks(planes, threads: g.threads, cost: outPlane * kh * kw) { r in
            for plane in r {
                let xs = xp + plane * inPlane, dxs = dxp + plane * inPlane, dys = dyp + plane * outPlane
                for oy in 0..<geo.outHeight {
                    let y0 = oy * sh - geo.padTop
                    let rowsInside = y0 >= 0 && y0 + (kh - 1) * dh < height
                    for ox in 0..<geo.outWidth {
                        let x0 = ox * sw - geo.padLeft
                        var at = -1
                        if rowsInside && x0 >= 0 && x0 + (kw - 1) * dw < width {
                            // The whole window is inside: no bounds checks (most windows).
                            at = y0 * width + x0
                            var best = xs[at]
                            for ky in 0..<kh {
                                let line = (y0 + ky * dh) * width + x0
                                for kx in 0..<kw where xs[line + kx * dw] > best {
                                    (best, at) = (xs[line + kx * dw], line + kx * dw)
                                }
                            }
                        } else {
                            var best = -Float.infinity
                            for ky in 0..<kh {
                                let iy = y0 + ky * dh
                                guard iy >= 0 && iy < height else { continue }
                                for kx in 0..<kw {
                                    let ix = x0 + kx * dw
                                    guard ix >= 0 && ix < width else { continue }
                                    let v = xs[iy * width + ix]
                                    if v > best || at < 0 { (best, at) = (v, iy * width + ix) }
                                }
                            }
                        }
                        if at >= 0 { dxs[at] += dys[oy * geo.outWidth + ox] }
                    }
                }
            }
        }
        return [dx]
    }

    static let averagePool = GradientRule.differentiable { g in
        guard g.wants(0) else { return [nil] }
        let x = try g.input(0), y = g.outputs[0], dy = try g.grad()
        let geo = try geometry(g.node, x, y)
        let includePad = try WindowAttributes(g.node).countIncludePad
        let dx = try g.floats(x.shape)
        let planes = x.shape[0] * x.shape[1], inPlane = geo.height * geo.width, outPlane = geo.outPositions
        let dyp = dy.floatPointer, dxp = dx.floatPointer
        // Taps inside the padded input count toward the divisor when count_include_pad is set;
        // taps past the padding (ceil_mode's last windows) never do.
        let (lowY, highY) = includePad ? (-geo.padTop, geo.height + geo.padBottom) : (0, geo.height)
        let (lowX, highX) = includePad ? (-geo.padLeft, geo.width + geo.padRight) : (0, geo.width)
        RuntimeParallel.chunks(planes, threads: g.threads, cost: outPlane * geo.kernelH * geo.kernelW) { r in
            for plane in r {
                let dxs = dxp + plane * inPlane, dys = dyp + plane * outPlane
                for oy in 0..<geo.outHeight {
                    for ox in 0..<geo.outWidth {
                        var count = 0
                        for ky in 0..<geo.kernelH {
                            let iy = oy * geo.strideH - geo.padTop + ky * geo.dilationH
                            guard iy >= lowY && iy < highY else { continue }
                            for kx in 0..<geo.kernelW {
                                let ix = ox * geo.strideW - geo.padLeft + kx * geo.dilationW
                                if ix >= lowX && ix < highX { count += 1 }
                            }
                        }
                        guard count > 0 else { continue }
                        let share = dys[oy * geo.outWidth + ox] / Float(count)
                        for ky in 0..<geo.kernelH {
                            let iy = oy * geo.strideH - geo.padTop + ky * geo.dilationH
                            guard iy >= 0 && iy < geo.height else { continue }
                            for kx in 0..<geo.kernelW {
                                let ix = ox * geo.strideW - geo.padLeft + kx * geo.dilationW
                                if ix >= 0 && ix < geo.width { dxs[iy * geo.width + ix] += share }
                            }
                        }
                    }
                }
            }
        }
        return [dx]
    }

    static func geometry(_ node: Node, _ x: RuntimeTensor, _ y: RuntimeTensor) throws -> ConvolutionGeometry {
        guard let kernel = try WindowAttributes(node).kernelShape else {
            throw ModelError("kernel_shape is missing")
        }
        return try ConvolutionGeometry.window(node, kernel: kernel, input: Array(x.shape[2...]),
                                              output: Array(y.shape[2...]), channels: 1)
    }

    static let globalAveragePool = GradientRule.differentiable { g in
        guard g.wants(0) else { return [nil] }
        let x = try g.input(0), dy = try g.grad()
        let planes = x.shape[0] * x.shape[1], size = x.shape[2...].reduce(1, *)
        let dx = try g.floats(x.shape, zeroed: false)
        let dyp = dy.floatPointer, dxp = dx.floatPointer
        for plane in 0..<planes {
            (dxp + plane * size).initialize(repeating: dyp[plane] / Float(size), count: size)
        }
        return [dx]
    }

    static let globalMaxPool = GradientRule.differentiable { g in
        guard g.wants(0) else { return [nil] }
        let x = try g.input(0), dy = try g.grad()
        let planes = x.shape[0] * x.shape[1], size = x.shape[2...].reduce(1, *)
        let dx = try g.floats(x.shape)
        let xp = x.floatPointer, dyp = dy.floatPointer, dxp = dx.floatPointer
        for plane in 0..<planes where size > 0 {
            let xs = xp + plane * size
            var at = 0
            for i in 1..<max(size, 1) where xs[i] > xs[at] { at = i }
            dxp[plane * size + at] = dyp[plane]
        }
        return [dx]
    }
}
