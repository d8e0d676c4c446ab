import Dispatch

/// Runs `body(range)` over `0..<count` split into at most `threads` contiguous chunks, in parallel
/// when more than one thread is allowed and the work (`count * cost` element operations) is worth it.
@inline(__always)
func parallelChunks(_ count: Int, threads: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
    let chunks = min(threads, count, max(1, count * cost / 32_768))
    if chunks <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = count * c / chunks, hi = count * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(i)` for each i in `0..<count`, spread over `threads` threads.
@inline(__always)
func parallelFor(_ count: Int, threads: Int, cost: Int = 1, _ body: (Int) -> Void) {
    parallelChunks(count, threads: threads, cost: cost) { r in for k in r { body(k) } }
}
