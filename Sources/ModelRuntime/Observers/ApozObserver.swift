import ModelIR

/// Counts, per channel (axis 1) of each observed tensor, exact zeros, positions, non-finite
/// values, and the sum and sum of squares of the activations, while `Interpreter.run` executes.
///
/// Counting is fused into the runtime: the observer asks for plane statistics, so the kernel
/// that writes an observed output (the epilogue of a fused Conv → BatchNormalization → Relu/Clip,
/// a Relu or Clip kernel, …) counts each (image, channel) plane right after finishing it, while
/// it is in cache, and the observer only adds the per-plane counts into its totals. Outputs of
/// operators that cannot count, and [N, C] outputs of dense layers (small, and still in cache),
/// are scanned here right after the node ran, channels split over `threads` threads (each
/// channel owned by one thread, so no locks). Both ways give the same totals, sums included:
/// planes are counted by the same code and added in image order.
///
/// An off-region point (`ObservationPoint.input` set: SiLU, GELU, HardSwish, …) is two tensors:
/// the kernel that writes the activation's input counts its values ≤ 0 (`CountedRegion`), and the
/// activation's output gives the positions, non-finite values and sums, so the means are the
/// output's. The two arrive as separate outputs and are added into one point's totals.
///
///     let observer = ApozObserver(points: try ObservationPoints.find(in: model), threads: 4)
///     for batch in batches { _ = try interpreter.run(inputs: feed(batch), observer: observer) }
///     let tensors = observer.statistics()
public final class ApozObserver: RuntimeObserver {
    /// Running totals of one observed tensor.
    final class Counters {
        let point: ObservationPoint
        var channels: Int?
        /// In the counted region: zeros of the point's tensor, or values ≤ 0 of its input.
        var zeros: [UInt64] = []
        /// Positions over which `zeros` were counted (the input's, for the off region).
        var zeroPositions: [UInt64] = []
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
            zeroPositions = zeros
            positions = zeros
            nonFinite = zeros
            sums = Array(repeating: 0, count: c)
            sumsOfSquares = sums
        }
    }

    /// The points being observed, in report order.
    public let points: [ObservationPoint]
    /// Threads for scanning outputs that kernels did not count (the interpreter's thread count
    /// is a good choice).
    public var threads: Int
    /// Whether to take statistics counted by kernels (default); false scans every observed
    /// output after its node ran, the slower way, kept for comparisons.
    public var countsInKernels = true
    private var counters: [Counters]

    /// What one delivered tensor gives a point's counters.
    enum Role {
        /// Everything: the tensor of a point that counts its own zeros (ReLU).
        case all
        /// Positions, non-finite values and sums: the output of an off-region point.
        case values
        /// The values ≤ 0: the input of an off-region point.
        case offRegion
        var region: CountedRegion? {
            switch self {
            case .all: return .zeros
            case .values: return nil
            case .offRegion: return .nonPositive
            }
        }
    }
    private var byTensor: [String: [(counter: Counters, role: Role)]] = [:]

    public init(points: [ObservationPoint], threads: Int = 1) {
        self.points = points
        self.threads = max(1, threads)
        counters = points.map(Counters.init)
        for c in counters {
            if let input = c.point.input {
                byTensor[c.point.tensor, default: []].append((c, .values))
                byTensor[input, default: []].append((c, .offRegion))
            } else {
                byTensor[c.point.tensor, default: []].append((c, .all))
            }
        }
    }

    public func wantsOutput(of node: Node, named output: String) -> Bool { byTensor[output] != nil }

    /// The one region the roles of `output` need counted; nil when two roles disagree (the
    /// tensor is then scanned once per region).
    private func region(of output: String) -> CountedRegion?? {
        let regions = Set((byTensor[output] ?? []).compactMap(\.role.region))
        guard regions.count <= 1 else { return nil }
        return .some(regions.first)
    }

    public func wantsPlaneStatistics(of node: Node, named output: String) -> Bool {
        // Kernels count planes along axis 1: channels-last points are scanned.
        countsInKernels && region(of: output) != nil
            && byTensor[output].map { !$0.isEmpty && !$0.contains { $0.counter.point.channelsLast } } == true
    }

    public func countedRegion(of node: Node, named output: String) -> CountedRegion {
        (region(of: output) ?? nil) ?? .zeros
    }

    /// Scans each (sample, channel) plane of `tensor` and adds it to the totals.
    public func observe(node: Node, output: String, tensor: RuntimeTensor) throws {
        for (counter, role) in byTensor[output] ?? [] {
            try scan(output, tensor, counter, role)
        }
    }

    private func scan(_ output: String, _ tensor: RuntimeTensor, _ counter: Counters, _ role: Role) throws {
        guard let (n, c, m) = try start(output, tensor, counter, role) else { return }
        let region = role.region ?? .zeros
        let base = UnsafePointer(tensor.f)
        if m == 1 {
            // [N, C] after a dense layer: row by row, eight channels per vector.
            let totals = Self.columnStatistics(base, rows: n, columns: c, region: region)
            accumulate(counter, role, n, c, m, threads: 1, cost: 1) { totals[$0] }
            return
        }
        if m < 8 {
            // Planes of a few values: row by row, in memory order.
            var totals = [PlaneStatistics](repeating: PlaneStatistics(), count: c)
            for sample in 0..<n {
                for ch in 0..<c { totals[ch].add(PlaneStatistics(base + (sample * c + ch) * m, count: m, region: region)) }
            }
            accumulate(counter, role, n, c, m, threads: 1, cost: 1) { totals[$0] }
            return
        }
        accumulate(counter, role, n, c, m, threads: threads, cost: n * m) { ch in
            var total = PlaneStatistics()
            for sample in 0..<n { total.add(PlaneStatistics(base + (sample * c + ch) * m, count: m, region: region)) }
            return total
        }
    }

    /// Adds the kernel's per-plane counts of `tensor` to the totals.
    /// Only the shape of a tensor handed with its plane statistics is read.
    public var readsValuesWithPlaneStatistics: Bool { false }

    public func observe(node: Node, output: String, tensor: RuntimeTensor,
                        planes: UnsafeBufferPointer<PlaneStatistics>) throws {
        for (counter, role) in byTensor[output] ?? [] {
            try add(output, tensor, planes, counter, role)
        }
    }

    private func add(_ output: String, _ tensor: RuntimeTensor, _ planes: UnsafeBufferPointer<PlaneStatistics>,
                     _ counter: Counters, _ role: Role) throws {
        guard let (n, c, m) = try start(output, tensor, counter, role) else { return }
        guard planes.count == n * c else {
            throw ModelError("observed tensor '\(output)': \(planes.count) plane statistics for \(n) x \(c) planes")
        }
        // Per channel in sample order, as the scan adds them; the table is read in memory order.
        var totals = [PlaneStatistics](repeating: PlaneStatistics(), count: c)
        for sample in 0..<n {
            for ch in 0..<c { totals[ch].add(planes[sample * c + ch]) }
        }
        // A plane a kernel failed to record is caught here in debug builds, where the table
        // starts zeroed (see `PlaneStatisticsTable.claim`), rather than undercounted.
        if let ch = totals.firstIndex(where: { $0.count != UInt64(n * m) }) {
            throw ModelError("observed tensor '\(output)': channel \(ch) was counted over \(totals[ch].count) of \(n * m) values")
        }
        accumulate(counter, role, n, c, m, threads: 1, cost: 1) { totals[$0] }
    }

    /// Statistics of each column of a row-major `rows` × `columns` matrix, added row by row
    /// in Double exactly as `PlaneStatistics` adds planes of one value, eight columns at a time.
    static func columnStatistics(_ p: UnsafePointer<Float>, rows: Int, columns: Int,
                                 region: CountedRegion = .zeros) -> [PlaneStatistics] {
        typealias I8 = SIMD8<Int32>
        var totals = [PlaneStatistics](repeating: PlaneStatistics(), count: columns)
        var column = 0
        while column + 8 <= columns {
            var z = I8(), bad = I8(), sums = SIMD8<Double>(), squares = SIMD8<Double>()
            for row in 0..<rows {
                // Conditions as integers (-1 true, 0 false) from the sign of a subtraction.
                let bits = unsafeBitCast(load8(p + row * columns + column), to: I8.self)
                let magnitude = bits & 0x7fff_ffff
                let finite = (magnitude &- 0x7f80_0000) &>> 31
                if region == .nonPositive {
                    // ±0, or the sign bit set and not NaN (magnitude at most infinity's).
                    z &-= ((magnitude &- 1) &>> 31) | ((bits &>> 31) & ((magnitude &- 0x7f80_0001) &>> 31))
                } else {
                    z &-= (magnitude &- 1) &>> 31
                }
                bad &+= finite &+ 1
                let x = SIMD8<Double>(unsafeBitCast(bits & finite, to: F8.self))
                sums += x
                squares += x * x
            }
            for k in 0..<8 {
                totals[column + k] = PlaneStatistics(count: UInt64(rows), zeros: UInt64(z[k]), nonFinite: UInt64(bad[k]),
                                                     sum: sums[k], sumOfSquares: squares[k])
            }
            column += 8
        }
        for k in column..<columns {
            for row in 0..<rows { totals[k].add(PlaneStatistics(p + row * columns + k, count: 1, region: region)) }
        }
        return totals
    }

    /// Checks an observed tensor and its channel count; returns its [N, C, M] sizes, or nil when
    /// it holds no values.
    private func start(_ output: String, _ tensor: RuntimeTensor, _ counter: Counters, _ role: Role) throws -> (Int, Int, Int)? {
        guard tensor.elementType == .float32 else {
            throw ModelError("observed tensor '\(output)' holds \(tensor.elementType), not float32 activations")
        }
        guard tensor.rank >= 2 else {
            throw ModelError("observed tensor '\(output)' has shape \(tensor.shape); APoZ needs a channel axis 1 ([N, C] or [N, C, …])")
        }
        // Channels last: every position in front of the channels is a row of a [rows, C] matrix.
        let (n, c, m) = counter.point.channelsLast
            ? (tensor.shape.dropLast().reduce(1, *), tensor.shape[tensor.rank - 1], 1)
            : (tensor.shape[0], tensor.shape[1], tensor.shape.dropFirst(2).reduce(1, *))
        if let known = counter.channels {
            guard known == c else {
                throw ModelError("observed tensor '\(output)' had \(known) channels, now \(c) (shape \(tensor.shape))")
            }
        } else {
            counter.start(channels: c)
        }
        if role != .offRegion { counter.batches += 1 }
        guard n > 0, c > 0, m > 0 else { return nil }
        return (n, c, m)
    }

    /// Adds `total(channel)`, the channel's statistics over the batch's `n` samples of `m` values,
    /// to the totals `role` feeds, channels split over `threads`.
    @inline(__always)
    private func accumulate(_ counter: Counters, _ role: Role, _ n: Int, _ c: Int, _ m: Int, threads: Int, cost: Int,
                            _ total: (_ channel: Int) -> PlaneStatistics) {
        let countsZeros = role != .values, countsValues = role != .offRegion
        counter.zeros.withUnsafeMutableBufferPointer { zeros in
        counter.zeroPositions.withUnsafeMutableBufferPointer { zeroPositions in
        counter.positions.withUnsafeMutableBufferPointer { positions in
        counter.nonFinite.withUnsafeMutableBufferPointer { nonFinite in
        counter.sums.withUnsafeMutableBufferPointer { sums in
        counter.sumsOfSquares.withUnsafeMutableBufferPointer { squares in
            parallelChunks(c, threads: threads, cost: cost) { channels in
                for ch in channels {
                    let total = total(ch)
                    if countsZeros {
                        zeros[ch] &+= total.zeros
                        zeroPositions[ch] &+= UInt64(n * m)
                    }
                    if countsValues {
                        nonFinite[ch] &+= total.nonFinite
                        positions[ch] &+= UInt64(n * m)
                        sums[ch] += total.sum
                        squares[ch] += total.sumOfSquares
                    }
                }
            }
        }}}}}}
    }

    /// The totals so far, one entry per point in `points` order.
    /// - Throws: when a point was never computed (a tensor of a branch the runs never reached).
    public func statistics() throws -> [TensorStatistics] {
        let missing = counters.filter { $0.channels == nil }.map(\.point.tensor)
        if !missing.isEmpty {
            throw ModelError("observed tensor(s) \(missing.map { "'\($0)'" }.joined(separator: ", ")) were never computed (outputs of constant-only nodes are folded away)")
        }
        // An off-region point's input and output are element by element the same shape.
        if let c = counters.first(where: { $0.zeroPositions != $0.positions }), let input = c.point.input {
            throw ModelError("observed tensor '\(c.point.tensor)': its input '\(input)' was seen over \(c.zeroPositions.reduce(0, +)) positions, the output over \(c.positions.reduce(0, +))")
        }
        return counters.map { c in
            TensorStatistics(point: c.point, zeros: c.zeros, positions: c.positions, nonFinite: c.nonFinite,
                             sums: c.sums, sumsOfSquares: c.sumsOfSquares)
        }
    }
}
