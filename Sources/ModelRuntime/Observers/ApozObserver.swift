import ModelIR

/// Counts, per channel (axis 1) of each observed tensor, exact zeros, positions, non-finite
/// values, and the sum and sum of squares of the activations, while `Interpreter.run` executes.
///
/// Counting happens in the observer hook, right after the node wrote the tensor, so the data is
/// read once more while it is still warm rather than stored and scanned later. Channels are
/// split over `threads` threads; each channel is owned by one thread, so counts need no locks.
///
///     let observer = ApozObserver(points: try ObservationPoints.find(in: model), threads: 4)
///     for batch in batches { _ = try interpreter.run(inputs: feed(batch), observer: observer) }
///     let tensors = observer.statistics()
public final class ApozObserver: RuntimeObserver {
    /// Running totals of one observed tensor.
    final class Counters {
        let point: ObservationPoint
        var channels: Int?
        var zeros: [UInt64] = []
        var positions: [UInt64] = []
        var nonFinite: [UInt64] = []
        var sums: [Double] = []
        var sumsOfSquares: [Double] = []
        /// Batches seen; 0 means the tensor was never computed.
        var batches = 0

        init(point: ObservationPoint) { self.point = point }

        func start(channels c: Int) {
            channels = c
            zeros = Array(repeating: 0, count: c)
            positions = zeros
            nonFinite = zeros
            sums = Array(repeating: 0, count: c)
            sumsOfSquares = sums
        }
    }

    /// The points being observed, in report order.
    public let points: [ObservationPoint]
    /// Threads for counting (the interpreter's thread count is a good choice).
    public var threads: Int
    private var counters: [Counters]
    private var byTensor: [String: Counters] = [:]

    public init(points: [ObservationPoint], threads: Int = 1) {
        self.points = points
        self.threads = max(1, threads)
        counters = points.map(Counters.init)
        for c in counters { byTensor[c.point.tensor] = c }
    }

    public func wantsOutput(of node: Node, named output: String) -> Bool { byTensor[output] != nil }

    public func observe(node: Node, output: String, tensor: RuntimeTensor) throws {
        guard let counter = byTensor[output] else { return }
        guard tensor.elementType == .float32 else {
            throw ModelError("observed tensor '\(output)' holds \(tensor.elementType), not float32 activations")
        }
        guard tensor.rank >= 2 else {
            throw ModelError("observed tensor '\(output)' has shape \(tensor.shape); APoZ needs a channel axis 1 ([N, C] or [N, C, …])")
        }
        let n = tensor.shape[0], c = tensor.shape[1]
        let m = tensor.shape.dropFirst(2).reduce(1, *)
        if let known = counter.channels {
            guard known == c else {
                throw ModelError("observed tensor '\(output)' had \(known) channels, now \(c) (shape \(tensor.shape))")
            }
        } else {
            counter.start(channels: c)
        }
        counter.batches += 1
        guard n > 0, c > 0, m > 0 else { return }
        let base = UnsafePointer(tensor.f)
        counter.zeros.withUnsafeMutableBufferPointer { zeros in
        counter.positions.withUnsafeMutableBufferPointer { positions in
        counter.nonFinite.withUnsafeMutableBufferPointer { nonFinite in
        counter.sums.withUnsafeMutableBufferPointer { sums in
        counter.sumsOfSquares.withUnsafeMutableBufferPointer { squares in
            parallelChunks(c, threads: threads, cost: n * m) { channels in
                for ch in channels {
                    var total = PlaneStatistics()
                    for sample in 0..<n { total.add(PlaneStatistics(base + (sample * c + ch) * m, count: m)) }
                    zeros[ch] &+= total.zeros
                    nonFinite[ch] &+= total.nonFinite
                    positions[ch] &+= UInt64(n * m)
                    sums[ch] += total.sum
                    squares[ch] += total.sumOfSquares
                }
            }
        }}}}}
    }

    /// The totals so far, one entry per point in `points` order.
    /// - Throws: when a point was never computed (a tensor of a branch the runs never reached).
    public func statistics() throws -> [TensorStatistics] {
        let missing = counters.filter { $0.channels == nil }.map(\.point.tensor)
        if !missing.isEmpty {
            throw ModelError("observed tensor(s) \(missing.map { "'\($0)'" }.joined(separator: ", ")) were never computed (outputs of constant-only nodes are folded away)")
        }
        return counters.map { c in
            TensorStatistics(point: c.point, zeros: c.zeros, positions: c.positions, nonFinite: c.nonFinite,
                             sums: c.sums, sumsOfSquares: c.sumsOfSquares)
        }
    }
}

/// Zeros, non-finite values, sum and sum of squares of a contiguous run of floats.
struct PlaneStatistics {
    var zeros: UInt64 = 0
    var nonFinite: UInt64 = 0
    var sum = 0.0
    var sumOfSquares = 0.0

    init() {}

    /// Scans `count` floats at `p` eight at a time. Sums run in float32 lanes for at most 32
    /// vectors and then go to Double, so long planes keep double precision while the inner loop
    /// stays vectorised. NaN and ±infinity are counted apart and left out of the sums.
    @inline(__always)
    init(_ p: UnsafePointer<Float>, count: Int) {
        typealias F8 = SIMD8<Float>
        typealias I8 = SIMD8<Int32>
        let vectorEnd = count & ~7
        var i = 0
        while i < vectorEnd {
            let blockEnd = Swift.min(vectorEnd, i + 256)
            // Two independent accumulators per quantity, so the adds of consecutive vectors overlap.
            var s0 = F8(), s1 = F8(), q0 = F8(), q1 = F8()
            var z = I8(), bad = I8()
            @inline(__always) func scan(_ at: Int, _ s: inout F8, _ q: inout F8) {
                // Conditions as integers (-1 true, 0 false) from the sign of a subtraction: SIMD
                // comparisons and `replacing(with:where:)` compile to lane-by-lane loops through
                // memory here (measured 3x slower), these to a few AVX2 instructions.
                let v = unsafeBitCast(UnsafeRawPointer(p + at).loadUnaligned(as: F8.self), to: I8.self)
                let magnitude = v & 0x7fff_ffff
                let isZero = (magnitude &- 1) &>> 31
                let finite = (magnitude &- 0x7f80_0000) &>> 31
                z &-= isZero
                bad &+= finite &+ 1
                let x = unsafeBitCast(v & finite, to: F8.self)
                s += x
                q += x * x
            }
            while i + 16 <= blockEnd {
                scan(i, &s0, &q0)
                scan(i + 8, &s1, &q1)
                i += 16
            }
            if i < blockEnd {
                scan(i, &s0, &q0)
                i += 8
            }
            zeros += UInt64(z.wrappedSum())
            nonFinite += UInt64(bad.wrappedSum())
            sum += Double((s0 + s1).sum())
            sumOfSquares += Double((q0 + q1).sum())
        }
        while i < count {
            let v = p[i]
            if v == 0 {
                zeros += 1
            } else if !v.isFinite {
                nonFinite += 1
                i += 1
                continue
            }
            sum += Double(v)
            sumOfSquares += Double(v) * Double(v)
            i += 1
        }
    }

    @inline(__always)
    mutating func add(_ other: PlaneStatistics) {
        zeros &+= other.zeros
        nonFinite &+= other.nonFinite
        sum += other.sum
        sumOfSquares += other.sumOfSquares
    }
}
