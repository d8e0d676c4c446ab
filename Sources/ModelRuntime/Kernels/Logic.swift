/// Comparison, logic and selection loops over operands already broadcast to the output's shape.
/// Bool values are int64 0/1, the runtime's integer type.

/// y[i] = op(a[i], b[i]) as 0 or 1.
func compareElements<T>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ y: UnsafeMutablePointer<Int64>, count: Int,
                        _ op: (T, T) -> Bool) {
    for i in 0..<count { y[i] = op(a[i], b[i]) ? 1 : 0 }
}

/// out[i] = condition[i] ≠ 0 ? x[i] : y[i].
func selectElements<T>(_ condition: UnsafePointer<Int64>, _ x: UnsafePointer<T>, _ y: UnsafePointer<T>,
                       _ out: UnsafeMutablePointer<T>, count: Int) {
    for i in 0..<count { out[i] = condition[i] != 0 ? x[i] : y[i] }
}
