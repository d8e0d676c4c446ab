import ModelIR

/// Operators that move elements: Transpose, Concat, Split, Slice, Gather, Expand, Tile, Pad.
enum DataMovementOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.transpose, since: 1) { n, _ in
            let perm = n.intList("perm")
            return { inputs, ctx in
                let x = try inputs.required(0)
                let p = perm ?? Array((0..<x.rank).reversed())
                guard p.sorted() == Array(0..<x.rank) else { throw ModelError("perm \(p) is not a permutation of \(x.rank) axes") }
                let s = stridesOf(x.shape)
                return [try strided(x, base: 0, strides: p.map { s[$0] }, shape: p.map { x.shape[$0] }, ctx)]
            }
        },
        KernelEntry(.concat, since: 1) { n, v in
            let axis = try n.axisValue(opset: v)
            return { inputs, ctx in
                let parts = inputs.compactMap { $0 }
                // The interpreter hands over blocked inputs only when all of them are.
                if parts.first?.blocked == true, try normalizeAxis(axis, rank: 4) == 1 {
                    return [try BlockedLayout.concatChannels(parts, ctx)]
                }
                return [try concat(parts, axis: axis, ctx)]
            }
        },
        KernelEntry(.split, 1...12) { n, v in let s = n.intList("split"); return try split(n, v, sizes: { _ in s }) },
        KernelEntry(.split, since: 13) { n, v in try split(n, v, sizes: { $0.ints(1) }) },
        KernelEntry(.slice, 1...9) { n, _ in
            let starts = n.intList("starts") ?? [], ends = n.intList("ends") ?? [], axes = n.intList("axes")
            return { inputs, ctx in [try slice(try inputs.required(0), starts, ends, axes, nil, ctx)] }
        },
        KernelEntry(.slice, since: 10) { _, _ in
            { inputs, ctx in
                guard let starts = inputs.ints(1), let ends = inputs.ints(2) else { throw ModelError("starts and ends are required") }
                return [try slice(try inputs.required(0), starts, ends, inputs.ints(3), inputs.ints(4), ctx)]
            }
        },
        KernelEntry(.gather, since: 1) { n, v in
            let axis = try n.axisValue(opset: v)
            return { inputs, ctx in
                let x = try inputs.required(0), idx = try inputs.required(1)
                let a = try normalizeAxis(axis, rank: x.rank)
                let n = x.shape[a]
                let indices = try idx.int64s.map { i -> Int in
                    let j = i < 0 ? Int(i) + n : Int(i)
                    guard j >= 0 && j < n else { throw ModelError("index \(i) is out of range for axis \(a) of size \(n)") }
                    return j
                }
                let y = try ctx.tensor(Array(x.shape[..<a]) + idx.shape + Array(x.shape[(a + 1)...]), x.elementType)
                let (outer, inner) = (product(x.shape[..<a]), product(x.shape[(a + 1)...]))
                if x.elementType == .float32 { gather(x.f, outer: outer, n: n, inner: inner, indices: indices, y.f) }
                else { gather(x.i, outer: outer, n: n, inner: inner, indices: indices, y.i) }
                return [y]
            }
        },
        KernelEntry(.expand, since: 8) { _, _ in
            { inputs, ctx in
                let x = try inputs.required(0)
                guard let shape = inputs.ints(1) else { throw ModelError("required input 1 (shape) is missing") }
                let out = try broadcastShape(x.shape, shape)
                return [try strided(x, base: 0, strides: broadcastStrides(x.shape, to: out), shape: out, ctx)]
            }
        },
        KernelEntry(.tile, since: 6) { _, _ in
            { inputs, ctx in
                let x = try inputs.required(0)
                guard let repeats = inputs.ints(1), repeats.count == x.rank, repeats.allSatisfy({ $0 >= 0 }) else {
                    throw ModelError("repeats must hold \(x.rank) non-negative values")
                }
                let y = try ctx.tensor(zip(x.shape, repeats).map { $0 * $1 }, x.elementType)
                if x.elementType == .float32 { tile(x.f, shape: x.shape, repeats: repeats, y.f) }
                else { tile(x.i, shape: x.shape, repeats: repeats, y.i) }
                return [y]
            }
        },
        KernelEntry(.pad, 1...10) { n, v in
            let pads = n.intList(v < 2 ? "paddings" : "pads") ?? []
            let value = PadAttributes(n).value
            let mode = try padMode(n)
            return { inputs, ctx in [try padOperator(try inputs.required(0), pads, nil, value, mode, ctx)] }
        },
        KernelEntry(.pad, since: 11) { n, _ in
            let mode = try padMode(n)
            return { inputs, ctx in
                guard let pads = inputs.ints(1) else { throw ModelError("required input 1 (pads) is missing") }
                return [try padOperator(try inputs.required(0), pads, inputs.ints(3), try inputs.scalar(2) ?? 0, mode, ctx)]
            }
        },
    ]

    /// A fresh tensor holding the strided walk of `x` (see `stridedCopy`).
    static func strided(_ x: RuntimeTensor, base: Int, strides: [Int], shape: [Int], _ ctx: ExecContext) throws -> RuntimeTensor {
        let y = try ctx.tensor(shape, x.elementType)
        if x.elementType == .float32 { stridedCopy(x.f, base: base, strides: strides, shape: shape, y.f) }
        else { stridedCopy(x.i, base: base, strides: strides, shape: shape, y.i) }
        return y
    }

    static func concat(_ xs: [RuntimeTensor], axis: Int, _ ctx: ExecContext) throws -> RuntimeTensor {
        guard let first = xs.first else { throw ModelError("needs at least one input") }
        let a = try normalizeAxis(axis, rank: first.rank)
        for x in xs where x.rank != first.rank || x.shape[..<a] != first.shape[..<a] || x.shape[(a + 1)...] != first.shape[(a + 1)...] {
            throw ModelError("input shapes \(xs.map(\.shape)) differ outside axis \(a)")
        }
        let type: RuntimeElementType = xs.allSatisfy { $0.elementType == .int64 } ? .int64 : .float32
        let parts = try xs.map { type == .float32 ? try ctx.asFloat($0) : $0 }
        var shape = first.shape
        shape[a] = xs.reduce(0) { $0 + $1.shape[a] }
        let y = try ctx.tensor(shape, type)
        let outer = product(first.shape[..<a]), inner = product(first.shape[(a + 1)...])
        let size = type == .float32 ? 4 : 8
        var offset = 0
        for p in parts {
            let block = p.shape[a] * inner * size, row = shape[a] * inner * size
            for o in 0..<outer { (y.buffer.raw + o * row + offset).copyMemory(from: p.buffer.raw + o * block, byteCount: block) }
            offset += block
        }
        return y
    }

    static func split(_ node: Node, _ opset: Int, sizes: @escaping ([RuntimeTensor?]) -> [Int]?) throws -> OperatorFunction {
        let axis = try node.axisValue(opset: opset)
        let numOutputs = node.ints("num_outputs").map { Int($0[0]) }
        let outputs = node.outputs.count
        return { inputs, ctx in
            let x = try inputs.required(0)
            let a = try normalizeAxis(axis, rank: x.rank)
            let n = x.shape[a]
            var parts: [Int]
            if let s = sizes(inputs) {
                parts = s
            } else if let k = numOutputs {
                let chunk = (n + k - 1) / k
                parts = (0..<k).map { max(0, min(chunk, n - $0 * chunk)) }
            } else {
                guard outputs > 0, n % outputs == 0 else { throw ModelError("axis \(a) of size \(n) does not split into \(outputs) equal parts") }
                parts = [Int](repeating: n / outputs, count: outputs)
            }
            guard parts.reduce(0, +) == n, parts.allSatisfy({ $0 >= 0 }) else {
                throw ModelError("split \(parts) does not add up to \(n) along axis \(a)")
            }
            let s = stridesOf(x.shape)
            var start = 0
            return try parts.map { len in
                var shape = x.shape
                shape[a] = len
                defer { start += len }
                return try strided(x, base: start * s[a], strides: s, shape: shape, ctx)
            }
        }
    }

    static func slice(_ x: RuntimeTensor, _ starts: [Int], _ ends: [Int], _ axes: [Int]?, _ steps: [Int]?,
                      _ ctx: ExecContext) throws -> RuntimeTensor {
        let axes = try normalizeAxes(axes ?? Array(0..<starts.count), rank: x.rank)
        let steps = steps ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw ModelError("starts \(starts), ends \(ends), axes \(axes) and steps \(steps) differ in length")
        }
        var shape = x.shape, strides = stridesOf(x.shape), base = 0
        for (k, a) in axes.enumerated() {
            let dim = x.shape[a], step = steps[k]
            guard step != 0 else { throw ModelError("slice step on axis \(a) is 0") }
            var s = starts[k] < 0 ? starts[k] + dim : starts[k]
            var e = ends[k] < 0 ? ends[k] + dim : ends[k]
            if step > 0 {
                s = min(max(s, 0), dim); e = min(max(e, 0), dim)
                shape[a] = e > s ? (e - s + step - 1) / step : 0
            } else {
                s = min(max(s, 0), dim - 1); e = min(max(e, -1), dim - 1)
                shape[a] = s > e ? (s - e - step - 1) / -step : 0
            }
            if shape[a] > 0 { base += s * strides[a] }
            strides[a] *= step
        }
        return try strided(x, base: base, strides: strides, shape: shape, ctx)
    }

    static func padMode(_ node: Node) throws -> PadMode {
        let m = PadAttributes(node).mode
        guard let mode = PadMode(rawValue: m) else { throw ModelError("unknown pad mode '\(m)'") }
        return mode
    }

    static func padOperator(_ x: RuntimeTensor, _ pads: [Int], _ axes: [Int]?, _ value: Float, _ mode: PadMode,
                            _ ctx: ExecContext) throws -> RuntimeTensor {
        let axes = try normalizeAxes(axes ?? Array(0..<x.rank), rank: x.rank)
        guard pads.count == 2 * axes.count else { throw ModelError("pads \(pads) need \(2 * axes.count) values for \(x.shape)") }
        var begin = [Int](repeating: 0, count: x.rank), end = begin
        for (k, a) in axes.enumerated() { begin[a] = pads[k]; end[a] = pads[k + axes.count] }
        for a in 0..<x.rank where x.shape[a] == 0 && mode != .constant && begin[a] + end[a] > 0 {
            throw ModelError("cannot \(mode.rawValue)-pad empty axis \(a)")
        }
        guard zip(x.shape, zip(begin, end)).allSatisfy({ $0 + $1.0 + $1.1 >= 0 }) else {
            throw ModelError("pads \(pads) crop more than \(x.shape) holds")
        }
        let maps = (0..<x.rank).map { padIndexMap(n: x.shape[$0], begin: begin[$0], end: end[$0], mode: mode) }
        let y = try ctx.tensor(maps.map(\.count), x.elementType)
        if x.elementType == .float32 { pad(x.f, shape: x.shape, maps: maps, fill: value, y.f) }
        else { pad(x.i, shape: x.shape, maps: maps, fill: floatToInt64(value), y.i) }
        return y
    }
}
