import ModelIR

/// Batch slicing: a batch of a graph whose samples are independent runs as slices side by side.
extension Interpreter {
    /// What one pass over the steps works with: its own arena and statistics table, its
    /// threads, and for a slice of a batch, its turn in the observer calls.
    struct Lane {
        let arena: Arena
        let table: PlaneStatisticsTable
        let threads: Int
        let order: (turns: ObserverTurns, slice: Int)?
    }

    /// The batch size shared by every fed tensor (their first dimension), if they share one.
    func commonBatch(_ inputs: [String: RuntimeTensor]) -> Int? {
        let sizes = Set(inputs.values.map { $0.rank > 0 ? $0.shape[0] : -1 })
        guard sizes.count == 1, let n = sizes.first, n > 0 else { return nil }
        return n
    }

    /// Samples a pass over the steps takes at a time when a batch is split: small enough that one
    /// layer's output for all of them stays in L2 for the next layer (a 32-channel 28×28 map is
    /// 100 KB per sample), large enough that the steps' fixed costs stay small. Measured on the
    /// Fixtures models at batch 64 (Tools/benchmark.py): 8 to 32 samples per pass ran 15–20 % faster
    /// than the whole batch.
    static let chunkSamples = 16

    /// Runs contiguous slices of the batch through the graph on `workers` threads, one
    /// single-threaded pass per slice, and joins their outputs along the first axis. The slices
    /// hold at most `chunkSamples` samples when the batch allows (more slices than workers):
    /// worker w takes slices w, w + workers, …, so that the workers stay level in batch order.
    func runSlices(_ inputs: [String: RuntimeTensor], batch: Int, workers: Int,
                           _ observer: (any RuntimeObserver)?, _ wanted: [[Observation]]?) throws -> [String: RuntimeTensor] {
        let chunks = (batch + Self.chunkSamples - 1) / Self.chunkSamples
        let slices = min(batch, max(workers, (chunks + workers - 1) / workers * workers))
        let turns = ObserverTurns(slices: slices)
        while sliceLanes.count < workers { sliceLanes.append(Lane(arena: Arena(populated: true), table: PlaneStatisticsTable(), threads: 1, order: nil)) }
        let bounds = (0...slices).map { batch * $0 / slices }
        var results = [Result<[String: RuntimeTensor], Error>](repeating: .success([:]), count: slices)
        var times = [[Int: Double]](repeating: [:], count: workers)
        results.withUnsafeMutableBufferPointer { results in
        times.withUnsafeMutableBufferPointer { times in
            parallelWorkers(workers, workers: workers) { w, _ in
                for k in stride(from: w, to: slices, by: workers) {
                    // A failed slice must not leave the next one waiting for its turn.
                    defer { turns.finish(slice: k) }
                    let lane = Lane(arena: sliceLanes[w].arena, table: sliceLanes[w].table, threads: 1, order: (turns, k))
                    results[k] = Result {
                        var slice: [String: RuntimeTensor] = [:]
                        for (name, t) in inputs { slice[name] = t.rows(bounds[k]..<bounds[k + 1]) }
                        return try runSteps(slice, lane, observer, wanted, times: &times[w])
                    }
                }
            }
        }
        }
        let parts = try results.map { try $0.get() }
        if profiling { for t in times { stepSeconds.merge(t, uniquingKeysWith: +) } }
        var out: [String: RuntimeTensor] = [:]
        let ctx = ExecContext(arena: arena, threads: threads)
        for name in parts[0].keys {
            let pieces = parts.map { $0[name]! }
            for (k, p) in pieces.enumerated() where p.rank == 0 || p.shape[0] != bounds[k + 1] - bounds[k] {
                throw ModelError("output '\(name)' of a slice of \(bounds[k + 1] - bounds[k]) samples has shape \(p.shape): the graph mixes samples, run it with --threads 1")
            }
            out[name] = try RuntimeTensor.joiningRows(pieces, ctx)
        }
        // The slices' outputs go back to their arenas for the next batch.
        for (k, var part) in parts.enumerated() {
            for name in Array(part.keys) {
                guard var t = part.removeValue(forKey: name) else { continue }
                if isKnownUniquelyReferenced(&t.buffer) { sliceLanes[k % workers].arena.give(t.buffer) }
            }
        }
        return out
    }

}
