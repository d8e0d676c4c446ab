/// Dimension arithmetic for shape inference. A symbolic dimension (such as "batch") survives every
/// operation that keeps it whole (copying, multiplying by 1, broadcasting against 1); anything
/// else that involves it becomes unknown rather than guessed.
enum DimMath {
    /// Largest dimension inference computes with; bigger values are reported, never wrapped.
    static let limit = 1 << 50

    static func checked(_ v: Int) throws -> Int {
        guard v <= limit, v >= -limit else { throw ModelError("dimension \(v) is out of range") }
        return v
    }

    static func add(_ a: Int, _ b: Int) throws -> Int {
        let (s, o) = a.addingReportingOverflow(b)
        guard !o else { throw ModelError("dimension arithmetic overflows (\(a) + \(b))") }
        return try checked(s)
    }

    static func mul(_ a: Int, _ b: Int) throws -> Int {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        guard !o else { throw ModelError("dimension arithmetic overflows (\(a) × \(b))") }
        return try checked(p)
    }

    /// The product of `values`, or nil when it overflows.
    static func product<S: Sequence>(ints values: S) -> Int? where S.Element == Int {
        var p = 1
        for v in values {
            let (q, o) = p.multipliedReportingOverflow(by: v)
            if o { return nil }
            p = q
        }
        return p
    }

    /// Elements of a shape whose dimensions are all numbers, or nil (also when the count overflows).
    static func elementCount(_ shape: Shape?) -> Int? {
        shape?.fixedDims.flatMap { product(ints: $0) }
    }

    /// `size` rounded by `rule` as a dimension, throwing when it is not a sensible size.
    static func dimension(_ size: Double, _ rule: FloatingPointRoundingRule) throws -> Int {
        let r = size.rounded(rule)
        guard r.isFinite, r >= 0, r <= Double(limit) else { throw ModelError("computed size \(size) is out of range") }
        return Int(r)
    }

    /// Floor division for positive divisors (Swift's `/` truncates towards zero).
    static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

    /// The product of `dims`: a number when all are numbers (or one is 0), the symbol itself when
    /// one symbol is multiplied by ones, unknown otherwise.
    static func product<C: Collection>(_ dims: C) throws -> Dim where C.Element == Dim {
        var fixed = 1
        var others: [Dim] = []
        for d in dims {
            if case .fixed(let v) = d { fixed = try mul(fixed, v) } else { others.append(d) }
        }
        if others.isEmpty || fixed == 0 { return .fixed(fixed) }
        if others.count == 1, fixed == 1, case .symbol = others[0] { return others[0] }
        return .unknown
    }

    /// A shape's element count split into its numeric part and the symbols multiplying it.
    struct Count {
        var fixed = 1
        var symbols: [String] = []
        var hasUnknown = false

        init<C: Collection>(_ dims: C) throws where C.Element == Dim {
            for d in dims {
                switch d {
                case .fixed(let v): fixed = try DimMath.mul(fixed, v)
                case .symbol(let s): symbols.append(s)
                case .unknown: hasUnknown = true
                }
            }
        }
    }

    /// Two dimensions that must be equal: the more specific one, or nil when both are numbers and differ.
    static func unify(_ a: Dim, _ b: Dim) -> Dim? {
        switch (a, b) {
        case (.fixed(let x), .fixed(let y)): return x == y ? a : nil
        case (.fixed, _): return a
        case (_, .fixed): return b
        case (.symbol(let x), .symbol(let y)): return x == y ? a : .unknown
        case (.symbol, .unknown): return a
        default: return b
        }
    }

    /// Numpy-style (multidirectional) broadcasting of two shapes; nil when two numeric dimensions clash.
    static func broadcast(_ a: Shape, _ b: Shape) -> Shape? {
        let rank = Swift.max(a.rank, b.rank)
        var out: [Dim] = []
        out.reserveCapacity(rank)
        for i in 0..<rank {
            let x = i < rank - a.rank ? Dim.fixed(1) : a.dims[i - (rank - a.rank)]
            let y = i < rank - b.rank ? Dim.fixed(1) : b.dims[i - (rank - b.rank)]
            switch (x, y) {
            case (.fixed(1), _): out.append(y)
            case (_, .fixed(1)): out.append(x)
            case (.fixed(let p), .fixed(let q)):
                guard p == q else { return nil }
                out.append(x)
            // A non-1 number wins over an unknown or symbol: the model is valid only if they agree.
            case (.fixed, _): out.append(x)
            case (_, .fixed): out.append(y)
            case (.symbol(let p), .symbol(let q)) where p == q: out.append(x)
            default: out.append(.unknown)
            }
        }
        return Shape(out)
    }

    /// Merges an inferred shape with one declared in the file: inferred dimensions win, declared
    /// ones fill in what inference could not work out.
    static func merge(inferred: Shape?, declared: Shape?) -> Shape? {
        guard let inferred else { return declared }
        guard let declared, declared.rank == inferred.rank else { return inferred }
        return Shape(zip(inferred.dims, declared.dims).map { i, d in
            if case .unknown = i { return d }
            return i
        })
    }
}

extension Shape {
    /// A shape of `rank` unknown dimensions.
    static func unknown(rank: Int) -> Shape { Shape(Array(repeating: .unknown, count: rank)) }

    /// The most dimensions a shape may have when its rank comes from the file's data (the length
    /// of a shape vector), so that a declared length of 10^12 cannot allocate a 10^12-entry shape.
    static let maxRank = 1024

    /// A shape of `rank` unknown dimensions, `rank` read from the file: refused outside 0...maxRank.
    static func unknown(declaredRank rank: Int) throws -> Shape {
        guard rank >= 0, rank <= maxRank else {
            throw ModelError("a shape of \(rank) dimensions is declared; at most \(maxRank) are supported")
        }
        return unknown(rank: rank)
    }
}
