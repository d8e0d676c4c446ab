/// Which values of a plane `PlaneStatistics.zeros` counts.
public enum CountedRegion: String, Sendable, Codable, Equatable {
    /// Exact zeros (+0 and −0): the paper's APoZ on a ReLU's output.
    case zeros
    /// Values ≤ 0 (±0 and negatives, −infinity included, NaN not): the off region of an
    /// activation, counted on its input (the pre-activation).
    case nonPositive
}

/// Zeros (or non-positive values, see `CountedRegion`), non-finite values, sum and sum of squares
/// of a contiguous run of floats: one (image, channel) plane of an activation, counted by the
/// kernel that wrote it or by a scan.
public struct PlaneStatistics: Sendable, Equatable {
    typealias I8 = SIMD8<Int32>

    /// Elements scanned, non-finite ones included.
    public internal(set) var count: UInt64 = 0
    /// Values in the counted region: exact zeros (+0 and -0) by default, values ≤ 0 when
    /// counting `CountedRegion.nonPositive`.
    public internal(set) var zeros: UInt64 = 0
    /// NaN or ±infinity: neither zeros nor part of the sums.
    public internal(set) var nonFinite: UInt64 = 0
    /// Sum and sum of squares of the finite values.
    public internal(set) var sum = 0.0
    public internal(set) var sumOfSquares = 0.0

    public init() {}

    init(count: UInt64, zeros: UInt64, nonFinite: UInt64, sum: Double, sumOfSquares: Double) {
        (self.count, self.zeros, self.nonFinite, self.sum, self.sumOfSquares) = (count, zeros, nonFinite, sum, sumOfSquares)
    }

    /// Scans `count` floats at `p`; see `init(_:count:mapping:into:)`.
    @inline(__always)
    init(_ p: UnsafePointer<Float>, count: Int) {
        self.init(p, count: count, mapping: Unchanged(), into: nil, region: ZeroTest.self)
    }

    /// Scans `count` floats at `p`, counting `region`.
    @inline(__always)
    init(_ p: UnsafePointer<Float>, count: Int, region: CountedRegion) {
        switch region {
        case .zeros: self.init(p, count: count, mapping: Unchanged(), into: nil, region: ZeroTest.self)
        case .nonPositive: self.init(p, count: count, mapping: Unchanged(), into: nil, region: NonPositiveTest.self)
        }
    }

    /// `init(_:count:mapping:into:region:)` counting exact zeros.
    @inline(__always)
    init<F: UnaryFloatFunction>(_ source: UnsafePointer<Float>, count: Int, mapping f: F,
                                into destination: UnsafeMutablePointer<Float>?) {
        self.init(source, count: count, mapping: f, into: destination, region: ZeroTest.self)
    }

    /// `init(_:count:mapping:into:region:)` with the region as a value, one specialisation each.
    @inline(__always)
    init<F: UnaryFloatFunction>(_ source: UnsafePointer<Float>, count: Int, mapping f: F,
                                into destination: UnsafeMutablePointer<Float>?, region: CountedRegion) {
        switch region {
        case .zeros: self.init(source, count: count, mapping: f, into: destination, region: ZeroTest.self)
        case .nonPositive: self.init(source, count: count, mapping: f, into: destination, region: NonPositiveTest.self)
        }
    }

    /// Computes `f` of the `count` floats at `source` into `destination` (which may be `source`)
    /// and counts the results while they are in registers; with no destination, counts `f` of
    /// the values without storing them. Kernels count the planes they finish this way, so its cost
    /// is the cost of collecting APoZ.
    ///
    /// Eight floats at a time: sums run in 16 float32 lanes over blocks of at most 1024 values (64
    /// per lane) and then go to Double, so long planes keep double precision while the inner loop
    /// stays vectorised and most planes are reduced across lanes only once. The
    /// common case, all values finite, takes four vector operations per 8 floats (zero test,
    /// count, sum, fused square-and-add); a block whose sum of squares comes out non-finite (a
    /// NaN, an infinity, or a square beyond float range) is counted again value by value, NaN and
    /// ±infinity apart and left out of the sums. A plane of fewer than 8 values is counted value by
    /// value. The values are `f.vector` of whole vectors and `f.scalar` of the tail, and the counts do not depend on whether they are stored, so a
    /// kernel's counts equal a later scan's of the same plane exactly, sums included. `R` chooses
    /// what `zeros` counts (a type, so that each choice is its own specialisation: no cost).
    @inline(__always)
    init<F: UnaryFloatFunction, R: RegionTest>(_ source: UnsafePointer<Float>, count: Int, mapping f: F,
                                               into destination: UnsafeMutablePointer<Float>?, region: R.Type) {
        self.count = UInt64(count)
        let vectorEnd = count & ~7
        guard vectorEnd > 0 else {
            // Fewer than 8 values: in Double.
            for k in 0..<count {
                let v = f.scalar(source[k])
                destination?[k] = v
                addValue(v, R.self)
            }
            return
        }
        var i = 0
        repeat {
            let blockStart = i, blockEnd = Swift.min(vectorEnd, i + 1024)
            // Independent accumulators, so that consecutive adds and FMAs overlap: four vectors per
            // step keep four FMA chains busy (one chain per two vectors left the scan waiting on
            // FMA latency), the sums add pairs first.
            var s0 = F8(), s1 = F8(), q0 = F8(), q1 = F8(), q2 = F8(), q3 = F8()
            var z = I8()
            while i + 32 <= blockEnd {
                let a = f.vector(load8(source + i)), b = f.vector(load8(source + i + 8))
                let c = f.vector(load8(source + i + 16)), d = f.vector(load8(source + i + 24))
                if let destination {
                    store8(a, destination + i)
                    store8(b, destination + i + 8)
                    store8(c, destination + i + 16)
                    store8(d, destination + i + 24)
                }
                // Mask lanes are -1 where true: subtracting counts (±0 == 0; NaN is no zero).
                z &-= (R.mask(a) &+ R.mask(b)) &+ (R.mask(c) &+ R.mask(d))
                s0 += a + c
                s1 += b + d
                q0 = q0.addingProduct(a, a)
                q1 = q1.addingProduct(b, b)
                q2 = q2.addingProduct(c, c)
                q3 = q3.addingProduct(d, d)
                i += 32
            }
            if i + 16 <= blockEnd {
                let a = f.vector(load8(source + i)), b = f.vector(load8(source + i + 8))
                if let destination {
                    store8(a, destination + i)
                    store8(b, destination + i + 8)
                }
                z &-= R.mask(a) &+ R.mask(b)
                s0 += a
                s1 += b
                q0 = q0.addingProduct(a, a)
                q1 = q1.addingProduct(b, b)
                i += 16
            }
            if i < blockEnd {
                let a = f.vector(load8(source + i))
                if let destination { store8(a, destination + i) }
                z &-= R.mask(a)
                s0 += a
                q0 = q0.addingProduct(a, a)
                i += 8
            }
            // The last block also takes the tail (fewer than 8 values, by the scalar form), padded
            // with zeros that are then not counted (zeros are in every region): no per-value
            // branches, no second reduction.
            let last = blockEnd == vectorEnd
            var padding: UInt64 = 0
            if last && vectorEnd < count {
                var t = F8()
                for k in vectorEnd..<count {
                    let v = f.scalar(source[k])
                    destination?[k] = v
                    t[k - vectorEnd] = v
                }
                padding = UInt64(8 - (count - vectorEnd))
                z &-= R.mask(t)
                s1 += t
                q1 = q1.addingProduct(t, t)
            }
            // A NaN or infinity anywhere makes the sum of squares NaN or infinite.
            let (sums, squares) = Self.totals(s0 + s1, (q0 + q2) + (q1 + q3))
            if squares.isFinite {
                zeros += Self.total(z) - padding
                sum += Double(sums)
                sumOfSquares += Double(squares)
            } else if let destination {
                addBlock(destination, blockStart, blockEnd, Unchanged(), R.self)
                if last { for k in vectorEnd..<count { addValue(destination[k], R.self) } }
            } else {
                addBlock(source, blockStart, blockEnd, f, R.self)
                if last { for k in vectorEnd..<count { addValue(f.scalar(source[k]), R.self) } }
            }
            i = blockEnd
        } while i < vectorEnd
    }

    /// Counts one value without branches (after Relu, whether it is zero is a coin toss).
    @inline(__always)
    private mutating func addValue<R: RegionTest>(_ v: Float, _: R.Type) {
        let finite = v.isFinite
        zeros &+= R.contains(v) ? 1 : 0
        nonFinite &+= finite ? 0 : 1
        let x = finite ? Double(v) : 0
        sum += x
        sumOfSquares += x * x
    }

    /// Adds `f` of floats `from..<to` (a multiple of 8 long), NaN and infinities counted apart.
    private mutating func addBlock<F: UnaryFloatFunction, R: RegionTest>(_ p: UnsafePointer<Float>, _ from: Int, _ to: Int,
                                                                         _ f: F, _: R.Type) {
        var s = F8(), q = F8()
        var z = I8(), bad = I8()
        var i = from
        while i < to {
            // Conditions as integers (-1 true, 0 false) from the sign of a subtraction.
            let value = f.vector(load8(p + i))
            let v = unsafeBitCast(value, to: I8.self)
            let magnitude = v & 0x7fff_ffff
            let finite = (magnitude &- 0x7f80_0000) &>> 31
            z &-= R.mask(value)
            bad &+= finite &+ 1
            let x = unsafeBitCast(v & finite, to: F8.self)
            s += x
            q = q.addingProduct(x, x)
            i += 8
        }
        let (sums, squares) = Self.totals(s, q)
        zeros += Self.total(z)
        nonFinite += Self.total(bad)
        sum += Double(sums)
        sumOfSquares += Double(squares)
    }

    /// The lanes of `s` and of `q` added pairwise, both in one tree of three vector adds
    /// (`sum()` adds lanes one after another, which for planes of a few dozen values costs as
    /// much as the scan itself).
    @inline(__always)
    private static func totals(_ s: F8, _ q: F8) -> (Float, Float) {
        let both = SIMD8(lowHalf: s.lowHalf + s.highHalf, highHalf: q.lowHalf + q.highHalf)
        let four = both.evenHalf + both.oddHalf, two = four.evenHalf + four.oddHalf
        return (two[0], two[1])
    }

    @inline(__always)
    private static func total(_ v: I8) -> UInt64 {
        let four = v.lowHalf &+ v.highHalf, two = four.lowHalf &+ four.highHalf
        return UInt64(two[0] &+ two[1])
    }

    @inline(__always)
    mutating func add(_ other: PlaneStatistics) {
        count &+= other.count
        zeros &+= other.zeros
        nonFinite &+= other.nonFinite
        sum += other.sum
        sumOfSquares += other.sumOfSquares
    }
}

/// Where a kernel puts the statistics of the planes it writes: entry `image * channels + channel`
/// of a table of `images * channels` entries. Plain data, so kernels stay free of observers; each
/// plane is recorded exactly once, by the thread that wrote it, so no locks are needed.
struct PlaneStatisticsSink {
    let base: UnsafeMutablePointer<PlaneStatistics>
    let channels: Int
    /// What `PlaneStatistics.zeros` must count for this output.
    var region: CountedRegion = .zeros

    /// Counts `f` of the `count` floats at `source` (stored into `destination` when given) in
    /// the sink's region.
    @inline(__always)
    func count<F: UnaryFloatFunction>(_ source: UnsafePointer<Float>, count: Int, mapping f: F,
                                      into destination: UnsafeMutablePointer<Float>?) -> PlaneStatistics {
        PlaneStatistics(source, count: count, mapping: f, into: destination, region: region)
    }

    /// Records plane (image, channel).
    @inline(__always)
    func record(_ statistics: PlaneStatistics, image: Int, channel: Int) {
        base[image * channels + channel] = statistics
    }

    /// Records plane `index` = image · channels + channel.
    @inline(__always)
    func record(_ statistics: PlaneStatistics, plane index: Int) {
        base[index] = statistics
    }

    /// Scans and records every plane of plain float32 `t` ([N, C, …]), already final.
    func recordPlanes(of t: RuntimeTensor) {
        let planes = t.shape[0] * t.shape[1], size = t.count / max(1, planes)
        for p in 0..<planes { record(PlaneStatistics(t.f + p * size, count: size, region: region), plane: p) }
    }
}

/// What `PlaneStatistics` counts as `zeros`, as a type so that each choice is specialised.
protocol RegionTest {
    /// −1 in the lanes whose value is in the region, 0 elsewhere.
    static func mask(_ v: F8) -> SIMD8<Int32>
    static func contains(_ v: Float) -> Bool
}

/// Exact zeros (NaN is none).
enum ZeroTest: RegionTest {
    @inline(__always) static func mask(_ v: F8) -> SIMD8<Int32> { unsafeBitCast(v .== F8(), to: SIMD8<Int32>.self) }
    @inline(__always) static func contains(_ v: Float) -> Bool { v == 0 }
}

/// Values ≤ 0 (NaN is none).
enum NonPositiveTest: RegionTest {
    @inline(__always) static func mask(_ v: F8) -> SIMD8<Int32> { unsafeBitCast(v .<= F8(), to: SIMD8<Int32>.self) }
    @inline(__always) static func contains(_ v: Float) -> Bool { v <= 0 }
}

/// f(x) = x, for counting values as they are.
struct Unchanged: UnaryFloatFunction {
    @inline(__always) func scalar(_ x: Float) -> Float { x }
    @inline(__always) func vector(_ x: F8) -> F8 { x }
}

/// The interpreter's reusable table of per-plane statistics for one step's output (see
/// `ExecContext.statistics`): an operator that can count claims it for its output's shape and
/// hands the returned sink to its kernel.
final class PlaneStatisticsTable {
    private var storage: UnsafeMutablePointer<PlaneStatistics>
    private var capacity: Int
    /// The output shape the table was last claimed for; nil when unclaimed.
    private(set) var shape: [Int]?

    init() {
        capacity = 64
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: PlaneStatistics(), count: capacity)
    }

    deinit { storage.deallocate() }

    /// Claims the table for an output of `shape` ([N, C, …], rank 2 or more): N·C entries, each
    /// to be written by the kernel. Debug builds (the tests) zero them first, so a plane a kernel
    /// failed to record shows as missing positions (`ApozObserver` refuses it); release builds
    /// skip that pass over up to a megabyte per observed output, which the interpreter's thread
    /// would make alone while the others wait.
    func claim(shape: [Int]) -> PlaneStatisticsSink {
        precondition(shape.count >= 2, "plane statistics need a channel axis")
        let planes = shape[0] * shape[1]
        if planes > capacity {
            storage.deallocate()
            capacity = max(planes, 2 * capacity)
            storage = .allocate(capacity: capacity)
            storage.initialize(repeating: PlaneStatistics(), count: capacity)
        }
        #if DEBUG
        storage.initialize(repeating: PlaneStatistics(), count: planes)
        #endif
        self.shape = shape
        return PlaneStatisticsSink(base: storage, channels: shape[1], region: region)
    }

    /// What the next claim's sink counts (set by the interpreter from the observer's wish).
    var region: CountedRegion = .zeros

    /// Forgets the last claim (before the next step).
    func release() { shape = nil }

    /// The claimed entries, image-major.
    var planes: UnsafeBufferPointer<PlaneStatistics> {
        UnsafeBufferPointer(start: storage, count: shape.map { $0[0] * $0[1] } ?? 0)
    }
}

/// y[i] = f(x[i]) (`y` may be `x`) plane by plane, each plane of `planeSize` values counted into
/// `sink` as it is written: plane p is (image p / channels, channel p % channels).
func mapUnary<F: UnaryFloatFunction>(_ f: F, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                     planes: Int, planeSize: Int, recording sink: PlaneStatisticsSink, threads: Int) {
    parallelChunks(planes, threads: threads, cost: 4 * planeSize) { range in
        for p in range {
            sink.record(sink.count(x + p * planeSize, count: planeSize, mapping: f, into: y + p * planeSize), plane: p)
        }
    }
}
