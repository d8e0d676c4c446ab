import ModelIR

/// Resize (opset 10+) and Upsample (opset 7–9): nearest, linear and cubic modes, separable per axis.
enum ResizeOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.upsample, 7...8) { n, _ in
            let scales = n[attribute: "scales"]?.floats
            return try resize(n, legacy: true) { _ in (scales, nil) }
        },
        KernelEntry(.upsample, 9...9) { n, _ in try resize(n, legacy: true) { ($0.optional(1)?.floats, nil) } },
        KernelEntry(.resize, 10...10) { n, _ in try resize(n, legacy: true) { ($0.optional(1)?.floats, nil) } },
        KernelEntry(.resize, since: 11) { n, _ in
            try resize(n, legacy: false) { inputs in
                let scales = inputs.optional(2).flatMap { $0.count > 0 ? $0.floats : nil }
                let sizes = inputs.optional(3).flatMap { $0.count > 0 ? $0.int64s.map { Int(clamping: $0) } : nil }
                return (scales, sizes)
            }
        },
    ]

    /// Legacy forms (Upsample, Resize-10) are asymmetric with floor rounding for nearest.
    static func resize(_ node: Node, legacy: Bool,
                       targets: @escaping ([RuntimeTensor?]) throws -> ([Float]?, [Int]?)) throws -> OperatorFunction {
        let attributes = ResizeAttributes(node, legacy: legacy)
        let mode = attributes.mode
        guard mode == "nearest" || mode == "linear" || mode == "cubic" || mode == "bilinear" && legacy else {
            throw ModelError("mode '\(mode)' is not supported (nearest, linear and cubic only)")
        }
        let ctm = attributes.coordinateTransformation
        guard let transform = CoordinateTransform(rawValue: ctm) else {
            throw ModelError("coordinate_transformation_mode '\(ctm)' is not supported")
        }
        let nm = attributes.nearestMode
        guard let nearestMode = NearestMode(rawValue: nm) else { throw ModelError("unknown nearest_mode '\(nm)'") }
        if attributes.antialias { throw ModelError("antialias is not supported") }
        let policy = attributes.keepAspectRatioPolicy
        guard policy == "stretch" else { throw ModelError("keep_aspect_ratio_policy '\(policy)' is not supported") }
        let axesAttr = node.intList("axes")
        let interpolation: ResizeInterpolation = mode == "nearest" ? .nearest(nearestMode)
            : mode == "cubic" ? .cubic(a: attributes.cubicCoefficient, excludeOutside: attributes.excludeOutside) : .linear
        return { inputs, ctx in
            let input = try ctx.asFloat(try inputs.required(0))
            var x = input
            let rank = x.rank
            let axes = try normalizeAxes(axesAttr ?? Array(0..<rank), rank: rank)
            let (scalesIn, sizesIn) = try targets(inputs)
            var scales = [Float](repeating: 1, count: rank), sizes = x.shape
            if let sizesIn {
                guard sizesIn.count == axes.count, sizesIn.allSatisfy({ $0 >= 0 }) else {
                    throw ModelError("sizes \(sizesIn) do not match \(axes.count) axes")
                }
                for (k, a) in axes.enumerated() { sizes[a] = sizesIn[k]; scales[a] = Float(sizesIn[k]) / Float(x.shape[a]) }
            } else if let scalesIn {
                guard scalesIn.count == axes.count, scalesIn.allSatisfy({ $0 > 0 }) else {
                    throw ModelError("scales \(scalesIn) do not match \(axes.count) axes or are not positive")
                }
                for (k, a) in axes.enumerated() {
                    scales[a] = scalesIn[k]
                    sizes[a] = Int((Float(x.shape[a]) * scalesIn[k]).rounded(.down))
                }
            } else {
                throw ModelError("one of scales and sizes is required")
            }
            _ = try RuntimeTensor.elementCount(sizes)
            for a in 0..<rank where sizes[a] != x.shape[a] || scales[a] != 1 {
                guard x.shape[a] > 0 else { throw ModelError("cannot resize empty axis \(a)") }
                let sampling = AxisSampling(inLength: x.shape[a], outLength: sizes[a], scale: scales[a],
                                            transform: transform, interpolation: interpolation)
                var shape = x.shape
                shape[a] = sizes[a]
                let y = try ctx.floats(shape)
                resampleAxis(x.f, y.f, outer: product(x.shape[..<a]), inLength: x.shape[a],
                             inner: product(x.shape[(a + 1)...]), sampling, threads: ctx.threads)
                let old = x
                x = y
                if old.buffer !== input.buffer { ctx.recycle(consume old) }
            }
            return [x]
        }
    }
}
