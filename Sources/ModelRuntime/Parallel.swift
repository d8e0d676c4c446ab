import Dispatch

/// Runs `body(range)` over `0..<count` split into at most `threads` contiguous chunks, in parallel
/// when more than one thread is allowed and the work (`count * cost` element operations) is worth it:
/// a chunk per 2^19 operations. With 2^15, single images on 2 threads ran slower than on one
/// (the hand-offs of many small loops: MobileNet-style 8,000 against 13,000 img/s at batch 1);
/// 2^18 and 2^19 measured alike on the Fixtures models, 2^19 better on LeNet.
@inline(__always)
func parallelChunks(_ count: Int, threads: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
    let chunks = min(threads, count, max(1, count * cost / 524_288))
    if chunks <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    let chunk = { (c: Int) in
        let lo = count * c / chunks, hi = count * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
    if WorkerPool.shared.tryRun(chunks, chunk) { return }
    DispatchQueue.concurrentPerform(iterations: chunks, execute: chunk)
}

/// Runs `body(i)` for each i in `0..<count`, spread over `threads` threads.
@inline(__always)
func parallelFor(_ count: Int, threads: Int, cost: Int = 1, _ body: (Int) -> Void) {
    parallelChunks(count, threads: threads, cost: cost) { r in for k in r { body(k) } }
}

/// Runs `body(worker, range)` for `workers` contiguous slices of `0..<count`, one per thread,
/// however little work there is (the caller has decided it is worth it).
func parallelWorkers(_ count: Int, workers: Int, _ body: (Int, Range<Int>) -> Void) {
    let n = min(workers, count)
    if n <= 1 {
        if count > 0 { body(0, 0..<count) }
        return
    }
    let slice = { (k: Int) in body(k, (count * k / n)..<(count * (k + 1) / n)) }
    if WorkerPool.shared.tryRun(n, slice) { return }
    DispatchQueue.concurrentPerform(iterations: n, execute: slice)
}
