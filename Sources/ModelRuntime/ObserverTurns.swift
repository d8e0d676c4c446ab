#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The order in which slices of a batch, running side by side, call the observer: slice k
/// delivers the outputs of step s once slice k − 1 has delivered step s (or finished), and one
/// call runs at a time. Each output thus reaches the observer slice by slice in batch order,
/// whatever the threads' timing, and observers need no locks.
final class ObserverTurns: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    /// Per slice, the last step it delivered (Int.max once it finished).
    private var reached: [Int]

    init(slices: Int) {
        reached = [Int](repeating: -1, count: slices)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `deliver` for step `step` of slice `slice` in its turn.
    func take(slice: Int, step: Int, _ deliver: () throws -> Void) throws {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        // The slices run in step, so a wait is short: yielding beats sleeping on the condition,
        // whose wake-up (tens of µs per observed step) cost a tenth of a MobileNet-sized run.
        var spins = 0
        while slice > 0 && reached[slice - 1] < step {
            if spins < 10_000 {
                spins += 1
                pthread_mutex_unlock(&mutex)
                sched_yield()
                pthread_mutex_lock(&mutex)
            } else {
                pthread_cond_wait(&changed, &mutex)
            }
        }
        // Called with the lock held: one observer call at a time.
        try deliver()
        reached[slice] = step
        pthread_cond_broadcast(&changed)
    }

    /// Marks `slice` done (or failed): later slices stop waiting for it.
    func finish(slice: Int) {
        pthread_mutex_lock(&mutex)
        reached[slice] = Int.max
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }
}
