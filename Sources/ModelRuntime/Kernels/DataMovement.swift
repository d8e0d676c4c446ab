/// Copies the elements `src[base + Σ index[d]·strides[d]]` for every index of `shape`, in
/// row-major order, into `dst`. Strides may be 0 (broadcast) or negative (reversed slices):
/// Transpose, Slice and Expand are all this one walk.
func stridedCopy<T>(_ src: UnsafePointer<T>, base: Int, strides: [Int], shape: [Int], _ dst: UnsafeMutablePointer<T>) {
    let total = shape.reduce(1, *)
    guard total > 0 else { return }
    guard let inner = shape.last else { dst[0] = src[base]; return }
    let innerStride = strides.last!
    let outer = total / inner
    let rank = shape.count
    var index = [Int](repeating: 0, count: rank)
    var offset = base
    var out = dst
    for _ in 0..<outer {
        if innerStride == 1 {
            out.update(from: src + offset, count: inner)
        } else {
            var o = offset
            for k in 0..<inner { out[k] = src[o]; o += innerStride }
        }
        out += inner
        // Advance the odometer over all but the innermost axis.
        var d = rank - 2
        while d >= 0 {
            index[d] += 1
            offset += strides[d]
            if index[d] < shape[d] { break }
            offset -= strides[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
}

/// Tile: output index i along each axis reads input index i mod dim.
func tile<T>(_ src: UnsafePointer<T>, shape: [Int], repeats: [Int], _ dst: UnsafeMutablePointer<T>) {
    let outShape = zip(shape, repeats).map { $0 * $1 }
    let total = outShape.reduce(1, *)
    guard total > 0 else { return }
    let inStrides = stridesOf(shape), outStrides = stridesOf(outShape)
    for o in 0..<total {
        var off = 0
        for d in 0..<shape.count { off += (o / outStrides[d]) % outShape[d] % shape[d] * inStrides[d] }
        dst[o] = src[off]
    }
}

/// Pad modes of the Pad operator.
enum PadMode: String, Sendable { case constant, reflect, edge, wrap }

/// For one axis of input length `n` padded by `begin`/`end` (negative = crop), the input index
/// each output position reads, or -1 for the constant value.
func padIndexMap(n: Int, begin: Int, end: Int, mode: PadMode) -> [Int] {
    let out = n + begin + end
    return (0..<max(out, 0)).map { o in
        var i = o - begin
        if i >= 0 && i < n { return i }
        switch mode {
        case .constant: return -1
        case .edge: return i < 0 ? 0 : n - 1
        case .wrap: return ((i % n) + n) % n
        case .reflect:
            if n == 1 { return 0 }
            let period = 2 * (n - 1)
            i = ((i % period) + period) % period
            return i < n ? i : period - i
        }
    }
}

/// Pad using per-axis index maps; `fill` is written where a map holds -1.
func pad<T>(_ src: UnsafePointer<T>, shape: [Int], maps: [[Int]], fill: T, _ dst: UnsafeMutablePointer<T>) {
    let outShape = maps.map(\.count)
    let total = outShape.reduce(1, *)
    guard total > 0 else { return }
    let inStrides = stridesOf(shape)
    let inner = outShape.last ?? 1
    let rank = shape.count
    for row in 0..<(total / inner) {
        var rest = row, off = 0, outside = false
        var d = rank - 2
        while d >= 0 {
            let i = maps[d][rest % outShape[d]]
            rest /= outShape[d]
            if i < 0 { outside = true }
            off += i * inStrides[d]
            d -= 1
        }
        let out = dst + row * inner
        if rank == 0 { out[0] = src[0]; return }
        if outside { out.initialize(repeating: fill, count: inner); continue }
        let last = maps[rank - 1]
        for k in 0..<inner { out[k] = last[k] < 0 ? fill : src[off + last[k]] }
    }
}

/// Gather along an axis: data viewed as [outer, n, inner], indices already made non-negative.
func gather<T>(_ src: UnsafePointer<T>, outer: Int, n: Int, inner: Int, indices: [Int], _ dst: UnsafeMutablePointer<T>) {
    var out = dst
    for o in 0..<outer {
        for idx in indices {
            out.update(from: src + (o * n + idx) * inner, count: inner)
            out += inner
        }
    }
}
