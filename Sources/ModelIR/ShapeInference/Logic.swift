/// Shape rules for comparisons (Equal, Less, Greater and the OrEqual forms), logic (Not, And, Or,
/// Xor) and Where. Results of comparisons and logic are bool.
extension NodeInference {
    /// Two inputs broadcast together, a bool result.
    func inferComparison() throws -> [Inferred] {
        _ = try required(0)
        _ = try required(1)
        return [Inferred(.bool, try broadcastShapes([0, 1]))]
    }

    func inferNot() throws -> [Inferred] {
        _ = try required(0)
        return [Inferred(.bool, shape(0))]
    }

    /// Where(condition, X, Y): all three broadcast; the element type is X's (or Y's).
    func inferWhere() throws -> [Inferred] {
        for i in 0..<3 { _ = try required(i) }
        let type = elementType(1) ?? elementType(2)
        let shape = try broadcastShapes([0, 1, 2])
        return [Inferred(type, shape, value: foldWhere(shape))]
    }

    /// The broadcast shape of `inputs`, nil when one is unknown.
    func broadcastShapes(_ inputs: [Int]) throws -> Shape? {
        var result: Shape? = nil
        for i in inputs {
            guard let s = shape(i) else { return nil }
            guard let r = result else { result = s; continue }
            guard let b = DimMath.broadcast(r, s) else { throw ModelError("input shapes \(r) and \(s) do not broadcast") }
            result = b
        }
        return result
    }

    /// Where on known vectors (shape computations select dimensions this way), elementwise.
    private func foldWhere(_ shape: Shape?) -> KnownValue? {
        guard let shape, shape.rank <= 1, let n = shape.rank == 0 ? 1 : shape[0].value,
              let c = numbers(0), let x = dims(1), let y = dims(2) else { return nil }
        func at<T>(_ v: [T], _ i: Int) -> T? { v.count == 1 ? v[0] : (i < v.count ? v[i] : nil) }
        var out: [Dim] = []
        for i in 0..<n {
            guard let ci = at(c, i), let xi = at(x, i), let yi = at(y, i) else { return nil }
            out.append(ci != 0 ? xi : yi)
        }
        return .ints(out)
    }
}
