import ModelIR

extension WindowAttributes {
    /// The node's window attributes, checked as the kernels need them: positive strides,
    /// dilations and kernel sizes, no negative pads.
    static func forKernels(_ node: Node) throws -> WindowAttributes {
        let a = try WindowAttributes(node)
        for (name, list) in [("strides", a.strides), ("dilations", a.dilations)] where list?.contains(where: { $0 < 1 }) == true {
            throw ModelError("\(name) must be positive, got \(list!)")
        }
        if let pads = a.pads, pads.contains(where: { $0 < 0 }) { throw ModelError("negative pads \(pads) are not supported") }
        if let k = a.kernelShape, k.contains(where: { $0 < 1 }) { throw ModelError("kernel_shape must be positive, got \(k)") }
        return a
    }
}

/// The geometry of a window operation over up to three spatial axes, stored as (D, H, W) with
/// leading axes of size 1 when the op has fewer, so one kernel serves 1-D, 2-D and 3-D.
struct WindowGeometry: Sendable {
    var input = [1, 1, 1], output = [1, 1, 1], kernel = [1, 1, 1], stride = [1, 1, 1], dilation = [1, 1, 1]
    var padBegin = [0, 0, 0], padEnd = [0, 0, 0]
    /// Number of spatial axes of the op (1…3).
    var rank = 0

    var inputVolume: Int { input.reduce(1, *) }
    var outputVolume: Int { output.reduce(1, *) }
    var kernelVolume: Int { kernel.reduce(1, *) }
    /// The op's own spatial output shape.
    var outputShape: [Int] { Array(output.suffix(rank)) }

    /// Geometry for a forward window (conv or pooling) over `spatial` input sizes.
    init(spatial: [Int], kernel k: [Int], _ p: WindowAttributes) throws {
        rank = spatial.count
        guard (1...3).contains(rank) else { throw ModelError("\(rank)-D windows are not supported (1-D to 3-D only)") }
        guard k.count == rank else { throw ModelError("kernel shape \(k) does not match \(rank) spatial axes") }
        let strides = p.strides(rank: rank), dilations = p.dilations(rank: rank), pads = p.pads(rank: rank)
        guard strides.count == rank, dilations.count == rank, pads.count == 2 * rank else {
            throw ModelError("strides \(strides), dilations \(dilations) or pads \(pads) do not match \(rank) spatial axes")
        }
        let lead = 3 - rank
        for a in 0..<rank {
            let i = a + lead
            input[i] = spatial[a]; kernel[i] = k[a]; stride[i] = strides[a]; dilation[i] = dilations[a]
            let extent = (k[a] - 1) * dilations[a] + 1
            switch p.autoPad {
            case .notSet:
                padBegin[i] = pads[a]; padEnd[i] = pads[a + rank]
                let span = spatial[a] + padBegin[i] + padEnd[i] - extent
                guard span >= 0 else { throw ModelError("window \(extent) is larger than padded input \(spatial[a] + padBegin[i] + padEnd[i])") }
                var out = (p.ceilMode ? (span + strides[a] - 1) / strides[a] : span / strides[a]) + 1
                // A last window that would start entirely in the end padding is dropped.
                if p.ceilMode && (out - 1) * strides[a] >= spatial[a] + padBegin[i] { out -= 1 }
                output[i] = out
            case .valid:
                guard spatial[a] >= extent else { throw ModelError("window \(extent) is larger than input \(spatial[a])") }
                output[i] = (spatial[a] - extent) / strides[a] + 1
            case .sameUpper, .sameLower:
                output[i] = (spatial[a] + strides[a] - 1) / strides[a]
                let total = max(0, (output[i] - 1) * strides[a] + extent - spatial[a])
                padBegin[i] = p.autoPad == .sameUpper ? total / 2 : total - total / 2
                padEnd[i] = total - padBegin[i]
            }
        }
    }

    init() {}

    /// Range of output positions along axis `a` whose input index o·stride − pad + offset lies in
    /// [0, input), for a kernel tap at `offset` (= tap·dilation).
    @inline(__always)
    func validRange(_ a: Int, offset: Int) -> Range<Int> {
        let s = stride[a], shift = offset - padBegin[a]
        // o·s + shift ≥ 0  ⇔  o ≥ ceil(−shift / s)
        let lo = shift >= 0 ? 0 : (-shift + s - 1) / s
        // o·s + shift ≤ input − 1
        let top = input[a] - 1 - shift
        let hi = top < 0 ? 0 : min(output[a], top / s + 1)
        return lo < hi ? lo..<hi : 0..<0
    }
}
