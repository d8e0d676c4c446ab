import ModelIR

/// Flatten, Reshape, Transpose, Squeeze, Unsqueeze: relabel axes. They keep channels when axis 1
/// stays put, turn channels into blocks of features when they flatten, and are barriers when they
/// mix channels (a channel shuffle) or move the channel axis anywhere but to the end.
extension ChannelAnalyzer {
    mutating func flatten(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let out = node.outputs.first, let r = rank(x) else { return }
        guard let a = node.axis(opset: opset) else { return stop(node, "Flatten has no axis") }
        guard (a < 0 ? a + r : a) == 1 else { return stop(node, "Flatten at axis \(a) mixes channels with other axes") }
        guard let flat = flattened(m, x) else { return stop(node, "spatial size is unknown") }
        maps[out] = flat
    }

    /// The map of `x` (map `m`) flattened to [N, features].
    func flattened(_ m: ChannelMap, _ x: String) -> ChannelMap? {
        switch m.kind {
        case .channels:
            guard let s = shape(x)?.dims.dropFirst(2).reduce(Optional(1), { a, d in a.flatMap { p in d.value.map { p * $0 } } }) else { return nil }
            return ChannelMap(segments: m.segments, kind: s == 1 ? .channels : .features(spatial: s, channelsLast: false))
        case .channelsLast(let s):
            return ChannelMap(segments: m.segments, kind: s == 1 ? .channels : .features(spatial: s, channelsLast: true))
        case .features:
            return m
        }
    }

    mutating func reshape(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let out = node.outputs.first else { return }
        guard opset >= 5 else { return stop(node, "Reshape-1 with a shape attribute") }
        guard let inShape = shape(x), let outShape = shape(out), inShape.rank >= 2, outShape.rank >= 2 else {
            return stop(node, "shapes are unknown")
        }
        let positions = m.positionCount
        let trailing = { (s: Shape) -> Int? in
            s.dims.dropFirst(2).reduce(Optional(1)) { a, d in a.flatMap { p in d.value.map { p * $0 } } }
        }
        let sameBatch = inShape[0] == outShape[0] || (inShape[0].value == nil && outShape[0].value == nil)
        if case .channels = m.kind, sameBatch, outShape[1].value == positions, trailing(inShape) != nil,
           trailing(outShape) == trailing(inShape) {
            // [N, C, H, W] -> [N, C, H·W] and the like: channels stay on axis 1.
            maps[out] = m
            patchShapeElement(node, element: 1, old: positions, by: out)
        } else if outShape.rank == 2, sameBatch, let flat = flattened(m, x), outShape[1].value == flat.positionCount {
            maps[out] = flat
            patchShapeElement(node, element: 1, old: flat.positionCount, by: out)
        } else {
            stop(node, "Reshape \(inShape) -> \(outShape) mixes channels")
        }
    }

    /// Records the patch of element `element` of Reshape's shape when it spells out `old`
    /// explicitly; -1 and 0 adapt by themselves, and values computed from live shapes too.
    mutating func patchShapeElement(_ node: Node, element: Int, old: Int, by tensor: String) {
        guard let s = node.input(1) else { return }
        if let v = ints(s) {
            if element < v.count, v[element] == old { edit(.patchElement(input: 1, element: element, by: tensor)) }
            return
        }
        // The dynamic form exporters emit: Concat(Unsqueeze(Gather(Shape(x), 0)), [C·H·W]).
        guard let p = producerIndex[s], graph.nodes[p].kind == .concat else { return }
        var offset = 0
        for (k, piece) in graph.nodes[p].inputs.enumerated() {
            guard let n = dim(piece, 0) ?? ints(piece)?.count else { return }
            if element < offset + n {
                if let v = ints(piece), v[element - offset] == old {
                    edit(.patchElement(input: k, element: element - offset, by: tensor), node: p)
                }
                return
            }
            offset += n
        }
    }

    mutating func transpose(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let out = node.outputs.first, let r = rank(x) else { return }
        let perm = node.ints("perm")?.map { Int($0) } ?? Array((0..<r).reversed())
        switch m.kind {
        case _ where perm == Array(0..<r):
            maps[out] = m
        case .channels where r == 4 && perm == [0, 2, 3, 1]:
            guard let h = dim(x, 2), let w = dim(x, 3) else { return stop(node, "spatial size is unknown") }
            maps[out] = ChannelMap(segments: m.segments, kind: .channelsLast(spatial: h * w))
        case .channelsLast where r == 4 && perm == [0, 3, 1, 2]:
            maps[out] = ChannelMap(segments: m.segments, kind: .channels)
        case .channels where perm.count >= 2 && perm[0] == 0 && perm[1] == 1:
            maps[out] = m
        default:
            stop(node, "Transpose \(perm) moves the channel axis")
        }
    }

    /// Squeeze/Unsqueeze axes: an attribute before opset 13, a constant input from then on.
    func axesOperand(_ node: Node, inputFrom version: Int64, input: Int = 1) -> [Int]?? {
        if opset < version { return .some(node.ints("axes")?.map { Int($0) }) }
        guard let a = node.input(input) else { return .some(nil) }
        guard let v = ints(a) else { return nil }  // not a constant: unknown
        return .some(v)
    }

    mutating func squeezeOrUnsqueeze(_ node: Node, _ kind: OpKind) {
        guard let x = node.input(0), let m = maps[x], let out = node.outputs.first,
              let r = rank(kind == .squeeze ? x : out) else { return }
        if case .channelsLast = m.kind { return stop(node, "\(node.opType) of a channels-last tensor") }
        guard let given = axesOperand(node, inputFrom: 13) else { return stop(node, "axes are not a constant") }
        if let given {
            guard let axes = normalized(given, rank: r), !axes.contains(0), !axes.contains(1) else {
                return stop(node, "\(node.opType) of the batch or channel axis")
            }
        } else if kind == .squeeze, dim(x, 0) == 1 || dim(x, 1) == 1 {
            return stop(node, "Squeeze without axes may remove the batch or channel axis")
        }
        maps[out] = m
    }
}
