/// Comparison, logic and selection loops with numpy broadcasting. Bool values are int64 0/1, the
/// runtime's integer type.

/// For every element of the broadcast shape `out`, the index of the element of a tensor of
/// `shape` that it reads.
func broadcastIndices(_ shape: [Int], to out: [Int]) -> [Int] {
    let own = (0..<shape.reduce(1, *)).map { $0 }
    return shape == out ? own : RuntimeParallel.stridedGather(own, strides: broadcastStrides(shape, to: out), shape: out)
}

/// y[i] = op(a[ia[i]], b[ib[i]]) as 0 or 1.
func compareElements<T>(_ a: UnsafePointer<T>, _ ia: [Int], _ b: UnsafePointer<T>, _ ib: [Int],
                        _ y: UnsafeMutablePointer<Int64>, _ op: (T, T) -> Bool) {
    for i in 0..<ia.count { y[i] = op(a[ia[i]], b[ib[i]]) ? 1 : 0 }
}

/// out[i] = condition[ic[i]] ≠ 0 ? x[ix[i]] : y[iy[i]].
func selectElements<T>(_ condition: UnsafePointer<Int64>, _ ic: [Int], _ x: UnsafePointer<T>, _ ix: [Int],
                       _ y: UnsafePointer<T>, _ iy: [Int], _ out: UnsafeMutablePointer<T>) {
    for i in 0..<ic.count { out[i] = condition[ic[i]] != 0 ? x[ix[i]] : y[iy[i]] }
}
