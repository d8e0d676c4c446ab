/// Selection along the middle axis of data seen as [outer, n, inner]: the index of the largest or
/// smallest element (ArgMax, ArgMin) and the k best elements in order (TopK).

/// For every (outer, inner) position, the index along n of the best element by `better`; ties go
/// to the first index, or the last with `last`.
func argSelect<T>(_ x: UnsafePointer<T>, outer: Int, n: Int, inner: Int, last: Bool, _ y: UnsafeMutablePointer<Int64>,
                  better: (T, T) -> Bool) {
    for o in 0..<outer {
        for i in 0..<inner {
            let base = x + o * n * inner + i
            var best = 0
            for k in 1..<Swift.max(n, 1) {
                let v = base[k * inner], b = base[best * inner]
                if better(v, b) || (last && !better(b, v)) { best = k }
            }
            y[o * inner + i] = Int64(best)
        }
    }
}

/// For every (outer, inner) position, the k best elements along n (largest or smallest), in
/// order of value with ties in order of index, as ONNX specifies; values and indices are written
/// as [outer, k, inner].
func topK<T: Comparable>(_ x: UnsafePointer<T>, outer: Int, n: Int, inner: Int, k: Int, largest: Bool,
                         _ values: UnsafeMutablePointer<T>, _ indices: UnsafeMutablePointer<Int64>) {
    var order = [Int](repeating: 0, count: n)
    for o in 0..<outer {
        for i in 0..<inner {
            let base = x + o * n * inner + i
            for j in 0..<n { order[j] = j }
            order.sort { a, b in
                let (va, vb) = (base[a * inner], base[b * inner])
                if va == vb { return a < b }
                return largest ? va > vb : va < vb
            }
            for j in 0..<k {
                let at = (o * k + j) * inner + i
                values[at] = base[order[j] * inner]
                indices[at] = Int64(order[j])
            }
        }
    }
}
