/// Shape rules for convolution and pooling: Conv, ConvTranspose, MaxPool, AveragePool,
/// GlobalAveragePool, GlobalMaxPool, LRN.
extension NodeInference {
    func inferGlobalPool() throws -> [Inferred] {
        _ = try required(0)
        guard let x = shape(0) else { return [Inferred(elementType(0), nil)] }
        guard x.rank >= 2 else { throw ModelError("input must have rank ≥ 2, got \(x)") }
        return [Inferred(elementType(0), Shape(Array(x.dims[0..<2]) + Array(repeating: .fixed(1), count: x.rank - 2)))]
    }

    func inferLRN() throws -> [Inferred] {
        _ = try required(0)
        guard try int("size", 0) > 0 else { throw ModelError("attribute 'size' must be positive") }
        return [passThrough]
    }

    /// Sliding-window attributes shared by convolutions and pools, validated against `k` spatial axes.
    struct Window {
        var kernel: [Int]
        var strides: [Int]
        var dilations: [Int]
        /// Begin pads for every axis, then end pads.
        var pads: [Int]
        var autoPad: WindowAttributes.AutoPad
        var ceilMode: Bool
    }

    func window(spatial k: Int, kernel: [Int], allowNegativePads: Bool = false) throws -> Window {
        let attributes = try windowAttributes()
        func list(_ name: String, _ v: [Int], count: Int, minimum: Int) throws -> [Int] {
            guard v.count == count else {
                throw ModelError("attribute '\(name)' has \(v.count) values, expected \(count) for \(k) spatial axes")
            }
            guard v.allSatisfy({ $0 >= minimum }) else {
                throw ModelError("attribute '\(name)' \(v) must be \(minimum == 0 ? "non-negative" : "positive")")
            }
            return v
        }
        guard kernel.count == k else {
            throw ModelError("kernel has \(kernel.count) axes but the input has \(k) spatial axes")
        }
        guard kernel.allSatisfy({ $0 > 0 }) else { throw ModelError("kernel shape \(kernel) must be positive") }
        return Window(kernel: kernel,
                      strides: try list("strides", attributes.strides(rank: k), count: k, minimum: 1),
                      dilations: try list("dilations", attributes.dilations(rank: k), count: k, minimum: 1),
                      pads: try list("pads", attributes.pads(rank: k), count: 2 * k, minimum: 0),
                      autoPad: attributes.autoPad, ceilMode: attributes.ceilMode)
    }

    /// The node's window attributes, their types and ranges checked first.
    func windowAttributes() throws -> WindowAttributes {
        for name in ["kernel_shape", "strides", "dilations", "pads", "output_padding", "output_shape"] { _ = try ints(name) }
        _ = try string("auto_pad", WindowAttributes.defaultAutoPad.rawValue)
        return try checked(WindowAttributes(node), integers: "ceil_mode")
    }

    /// Output sizes of a sliding window over `input` spatial dimensions.
    func slide(_ input: ArraySlice<Dim>, _ w: Window) throws -> [Dim] {
        let k = w.kernel.count
        return try input.enumerated().map { i, dim in
            guard let n = dim.value else { return .unknown }
            let s = w.strides[i]
            let extent = try DimMath.add(try DimMath.mul(w.kernel[i] - 1, w.dilations[i]), 1)
            switch w.autoPad {
            case .sameUpper, .sameLower:
                return .fixed(DimMath.ceilDiv(n, s))
            case .notSet, .valid:
                let (begin, end) = w.autoPad == .valid ? (0, 0) : (w.pads[i], w.pads[i + k])
                let padded = try DimMath.add(try DimMath.add(n, begin), end)
                guard padded >= extent else {
                    throw ModelError("kernel extent \(extent) exceeds the padded input size \(padded) on spatial axis \(i)")
                }
                var out = (w.ceilMode ? DimMath.ceilDiv(padded - extent, s) : (padded - extent) / s) + 1
                // With ceil_mode the last window must still start inside the input or its begin pad.
                if w.ceilMode, (out - 1) * s >= n + begin { out -= 1 }
                return .fixed(out)
            }
        }
    }

    func inferConv() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        let type = elementType(0) ?? elementType(1)
        let w = shape(1)
        guard let x = shape(0) else { return [Inferred(type, nil)] }
        guard x.rank >= 3 else { throw ModelError("input must have rank ≥ 3 (N, C, spatial…), got \(x)") }
        if let w, w.rank != x.rank { throw ModelError("weight \(w) and input \(x) have different ranks") }
        let group = try checked(ConvAttributes(node), integers: "group").group
        guard group > 0 else { throw ModelError("attribute 'group' must be positive, got \(group)") }
        if let c = x[1].value, let wc = w?[1].value, c != (try DimMath.mul(wc, group)) {
            throw ModelError("input has \(c) channels but the weight \(w!) expects \(wc) × group \(group)")
        }
        let out = w?[0] ?? .unknown
        if let m = out.value, m % group != 0 {
            throw ModelError("\(m) output channels are not divisible by group \(group)")
        }
        if let b = shape(2) {
            guard b.rank == 1, DimMath.unify(b[0], out) != nil else {
                throw ModelError("bias \(b) does not match \(out) output channels")
            }
        }
        let spatial: [Dim]
        if let kernel = try windowAttributes().kernelShape ?? w?.fixedDims.map({ Array($0.dropFirst(2)) }) {
            if let wk = w?.fixedDims.map({ Array($0.dropFirst(2)) }), wk != kernel {
                throw ModelError("kernel_shape \(kernel) does not match weight \(w!)")
            }
            spatial = try slide(x.dims.dropFirst(2), try window(spatial: x.rank - 2, kernel: kernel))
        } else {
            spatial = Array(repeating: .unknown, count: x.rank - 2)
        }
        return [Inferred(type, Shape([x[0], out] + spatial))]
    }

    func inferConvTranspose() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        let type = elementType(0) ?? elementType(1)
        let w = shape(1)
        guard let x = shape(0) else { return [Inferred(type, nil)] }
        guard x.rank >= 3 else { throw ModelError("input must have rank ≥ 3 (N, C, spatial…), got \(x)") }
        if let w, w.rank != x.rank { throw ModelError("weight \(w) and input \(x) have different ranks") }
        let k = x.rank - 2
        let group = try checked(ConvAttributes(node), integers: "group").group
        guard group > 0 else { throw ModelError("attribute 'group' must be positive, got \(group)") }
        if let c = x[1].value, let wc = w?[0].value, c != wc {
            throw ModelError("input has \(c) channels but the weight \(w!) expects \(wc)")
        }
        var out = Dim.unknown
        if let m = w?[1].value { out = .fixed(try DimMath.mul(m, group)) }
        if let b = shape(2) {
            guard b.rank == 1, DimMath.unify(b[0], out) != nil else {
                throw ModelError("bias \(b) does not match \(out) output channels")
            }
        }
        let attributes = try windowAttributes()
        guard let kernel = attributes.kernelShape ?? w?.fixedDims.map({ Array($0.dropFirst(2)) }) else {
            return [Inferred(type, Shape([x[0], out] + Array(repeating: .unknown, count: k)))]
        }
        let win = try window(spatial: k, kernel: kernel)
        let outputPadding = attributes.outputPadding(rank: k)
        guard outputPadding.count == k, outputPadding.allSatisfy({ $0 >= 0 }) else {
            throw ModelError("attribute 'output_padding' \(outputPadding) must hold \(k) non-negative values")
        }
        if let explicit = attributes.outputShape {
            guard explicit.count == k || explicit.count == k + 2, explicit.allSatisfy({ $0 > 0 }) else {
                throw ModelError("attribute 'output_shape' \(explicit) must hold \(k) positive sizes")
            }
            return [Inferred(type, Shape([x[0], out] + explicit.suffix(k).map { .fixed($0) }))]
        }
        let spatial: [Dim] = try x.dims.dropFirst(2).enumerated().map { i, dim in
            guard let n = dim.value else { return .unknown }
            let s = win.strides[i]
            if win.autoPad.isSame { return .fixed(try DimMath.mul(n, s)) }
            let extent = try DimMath.add(try DimMath.mul(kernel[i] - 1, win.dilations[i]), 1)
            let pads = win.autoPad == .valid ? 0 : win.pads[i] + win.pads[i + k]
            let size = try DimMath.mul(s, n - 1) + outputPadding[i] + extent - pads
            guard size > 0 else { throw ModelError("output size \(size) on spatial axis \(i) is not positive") }
            return .fixed(size)
        }
        return [Inferred(type, Shape([x[0], out] + spatial))]
    }

    func inferPool(_ kind: OpKind) throws -> [Inferred] {
        _ = try required(0)
        guard let kernel = try windowAttributes().kernelShape else { throw ModelError("missing attribute 'kernel_shape'") }
        guard let x = shape(0) else {
            return [Inferred(elementType(0), nil), Inferred(.int64, nil)]
        }
        guard x.rank >= 3 else { throw ModelError("input must have rank ≥ 3 (N, C, spatial…), got \(x)") }
        let spatial = try slide(x.dims.dropFirst(2), try window(spatial: x.rank - 2, kernel: kernel))
        let y = Shape(Array(x.dims[0..<2]) + spatial)
        // MaxPool's optional second output holds int64 indices of the maxima.
        return kind == .maxPool ? [Inferred(elementType(0), y), Inferred(.int64, y)] : [Inferred(elementType(0), y)]
    }
}
