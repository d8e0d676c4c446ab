import ModelIR

/// Concat and Split map channels through offsets; Slice, Pad, Resize and the reductions keep
/// channels when they leave the channel axis alone.
extension ChannelAnalyzer {
    mutating func concat(_ node: Node) {
        guard let out = node.outputs.first, let r = rank(out) else { return stop(node, "output rank is unknown") }
        guard let axis = node.axis(opset: opset) else { return stop(node, "Concat has no axis") }
        let a = axis < 0 ? axis + r : axis
        var parts: [ChannelMap] = []
        for input in node.inputs where !input.isEmpty {
            guard !isConstant(input), let m = maps[input] else { return stop(node, "operand '\(input)' has no channel map") }
            parts.append(m)
        }
        if a == 1 {
            guard parts.allSatisfy({ $0.kind == .channels }) else { return stop(node, "Concat of flattened features") }
            maps[out] = ChannelMap(segments: parts.flatMap(\.segments))
        } else {
            guard parts.allSatisfy({ $0 == parts[0] }) else { return stop(node, "Concat along axis \(a) of different channels") }
            maps[out] = parts[0]
        }
    }

    mutating func split(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let r = rank(x) else { return }
        guard let axis = node.axis(opset: opset) else { return stop(node, "Split has no axis") }
        let a = axis < 0 ? axis + r : axis
        guard a == m.axis(rank: r) else {
            for o in node.outputs where !o.isEmpty { maps[o] = m }
            return
        }
        guard m.kind == .channels else { return stop(node, "Split of flattened features") }
        let n = node.outputs.count
        let total = m.channelCount
        var sizes: [Int]
        if opset < 13, let s = node.ints("split") {
            sizes = s.map { Int($0) }
        } else if opset >= 13, let s = node.input(1) {
            guard let v = ints(s) else { return stop(node, "split sizes are not a constant") }
            sizes = v
        } else {
            let each = (total + n - 1) / Swift.max(n, 1)
            sizes = (0..<n).map { Swift.max(0, Swift.min(each, total - $0 * each)) }
        }
        guard sizes.count == n, sizes.reduce(0, +) == total else { return stop(node, "split sizes \(sizes) do not cover \(total) channels") }
        var offset = 0
        for (o, size) in zip(node.outputs, sizes) {
            if !o.isEmpty { maps[o] = ChannelMap(segments: m.segments(in: offset..<(offset + size))) }
            offset += size
        }
        edit(.splitSizes)
    }

    mutating func slice(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let r = rank(x) else { return }
        var axes: [Int]
        if opset < 10 {
            axes = node.ints("axes")?.map { Int($0) } ?? Array(0..<(node.ints("starts")?.count ?? r))
        } else if let given = node.input(3) {
            guard let v = ints(given) else { return stop(node, "axes are not a constant") }
            axes = v
        } else {
            guard let starts = node.input(1), let n = dim(starts, 0) ?? ints(starts)?.count else {
                return stop(node, "axes are unknown")
            }
            axes = Array(0..<n)
        }
        guard let norm = normalized(axes, rank: r), !norm.contains(m.axis(rank: r)) else {
            return stop(node, "Slice along the channel axis")
        }
        pass(node)
    }

    mutating func pad(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let r = rank(x) else { return }
        guard m.kind == .channels else { return stop(node, "Pad of a flattened or channels-last tensor") }
        let pads: [Int]?
        if opset < 11 { pads = (node.ints("pads") ?? node.ints("paddings"))?.map { Int($0) } } else { pads = ints(node.input(1)) }
        guard let pads else { return stop(node, "pads are not a constant") }
        var axes = Array(0..<r)
        if opset >= 18, let given = node.input(3) {
            guard let v = ints(given), let norm = normalized(v, rank: r) else { return stop(node, "axes are not a constant") }
            axes = norm
        }
        guard pads.count == 2 * axes.count else { return stop(node, "pads do not match the axes") }
        if let k = axes.firstIndex(of: 1), pads[k] != 0 || pads[k + axes.count] != 0 {
            return stop(node, "Pad along the channel axis")
        }
        pass(node)
    }

    mutating func resize(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let out = node.outputs.first, let r = rank(x) else { return }
        guard m.kind == .channels else { return stop(node, "resizing a flattened or channels-last tensor") }
        let axes = normalized(node.ints("axes")?.map { Int($0) } ?? Array(0..<r), rank: r) ?? Array(0..<r)
        guard let k = axes.firstIndex(of: 1) else { return pass(node) }
        let scalesInput = node.kind == .upsample ? 1 : (opset < 11 ? 1 : 2)
        let scales: [Float]? = node.kind == .upsample && opset < 9 ? node[attribute: "scales"]?.floats : node.input(scalesInput).flatMap { floats($0) }
        if let scales, !scales.isEmpty {
            guard k < scales.count, scales[k] == 1 else { return stop(node, "\(node.opType) scales the channel axis") }
        } else if node.kind == .resize, opset >= 11, let sizes = node.input(3) {
            guard ints(sizes) != nil else { return stop(node, "sizes are not a constant") }
            edit(.patchElement(input: 3, element: k, by: out))
        } else {
            return stop(node, "scales are not a constant")
        }
        pass(node)
    }

    mutating func reduce(_ node: Node) {
        guard let x = node.input(0), let m = maps[x], let r = rank(x) else { return }
        if case .channelsLast = m.kind { return stop(node, "reducing a channels-last tensor") }
        guard let kind = node.kind else { return }
        let version = ReduceAttributes.axesInputSince(kind)
        guard let given = axesOperand(node, inputFrom: version), let axes = given, let norm = normalized(axes, rank: r) else {
            return stop(node, "\(node.opType) over every axis (or axes not constant)")
        }
        let keep = ReduceAttributes(node).keepDims
        guard !norm.contains(1), keep || !norm.contains(0) else { return stop(node, "\(node.opType) over the channel axis") }
        pass(node)
    }
}
