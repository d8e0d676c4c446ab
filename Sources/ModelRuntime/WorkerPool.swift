import CBLAS
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Threads that stay from one batch to the next and run parallel work: the slices of a batch
/// side by side (`Interpreter.runSlices`), and the kernels' parallel loops (`parallelChunks`).
/// One pool serves the process (`shared`), one job at a time; a caller that finds it busy (another
/// interpreter, or a loop nested in a job) uses Dispatch instead.
///
/// Between batches the workers spin for a few milliseconds before they sleep, so that they are
/// still running on their own cores when the next batch comes. Dispatch's `concurrentPerform`
/// woke a sleeping worker for every batch instead, and on this 2-core VM the woken thread mostly
/// landed on the caller's core: the two slices then shared one core for most of the batch
/// (traced: the second slice started when the first ended in 110 of 128 batches). The workers
/// live as long as the process.
final class WorkerPool: @unchecked Sendable {
    /// The process's pool: a worker per processor besides the caller's.
    static let shared = WorkerPool(workers: Interpreter.defaultThreads - 1)
    /// Set while a job runs.
    private let busy = Atomic<Bool>(false)
    /// Bumped once per `run`; workers wait for it to change.
    private let generation = Atomic<Int>(0)
    /// Workers that have not yet finished with (or skipped) the current job: every worker
    /// answers every job, so none can miss one.
    private let remaining = Atomic<Int>(0)
    /// The current job and how many indices it has; written before `generation` is bumped.
    private var job: ((Int) -> Void)?
    private var jobCount = 0
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var threads: [pthread_t] = []
    /// How long an idle worker spins before it sleeps, and for how much of that it polls with a
    /// pause hint rather than a yield (a system call per poll made each hand-off cost
    /// microseconds); how many times the caller polls with the hint before it yields.
    private static let spinSeconds = 0.005, pauseSeconds = 0.0002
    private static let pausePolls = 1024

    /// Starts `workers` threads (fewer if the system refuses some: their indices then run on the
    /// calling thread).
    private init(workers: Int) {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for index in 1...max(1, workers) where workers > 0 {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index))
            var thread = pthread_t()
            if pthread_create(&thread, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.work(start.index)
            }, box.toOpaque()) == 0 {
                threads.append(thread)
            } else {
                box.release()
            }
        }
    }

    /// Runs `body(0)` … `body(count − 1)` at once, index 0 on the calling thread and the others
    /// on the workers, and returns true when all are done; returns false at once, running
    /// nothing, when the pool is busy with another job. Indices beyond the workers' run on the
    /// calling thread after index 0.
    func tryRun(_ count: Int, _ body: (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        run(count, body)
        return true
    }

    private func run(_ count: Int, _ body: (Int) -> Void) {
        let spread = min(count, threads.count + 1)
        withoutActuallyEscaping(body) { body in
            if spread > 1 {
                job = body
                jobCount = spread
                remaining.store(threads.count, ordering: .relaxed)
                generation.add(1, ordering: .releasing)
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&wake)
                pthread_mutex_unlock(&mutex)
            }
            body(0)
            for k in spread..<max(spread, count) { body(k) }
            if spread > 1 {
                // A pause hint per poll at first, then a yield: should a worker have been
                // preempted (another process on the cores), the caller must not keep its core.
                var polls = 0
                while remaining.load(ordering: .acquiring) > 0 {
                    polls += 1
                    if polls < Self.pausePolls { modeltool_spin_pause() } else { sched_yield() }
                }
                job = nil
            }
        }
    }

    /// A worker's life: wait for a job (spinning, then asleep), run its index, answer.
    private func work(_ index: Int) -> Never {
        var seen = 0
        while true {
            var idleSince = monotonicSeconds()
            while generation.load(ordering: .acquiring) == seen {
                let idle = monotonicSeconds() - idleSince
                if idle < Self.spinSeconds {
                    // Pause hints while a next job is likely soon (the layers of one image), then
                    // yields, which let a preempted caller run.
                    if idle < Self.pauseSeconds { modeltool_spin_pause() } else { sched_yield() }
                    continue
                }
                pthread_mutex_lock(&mutex)
                while generation.load(ordering: .acquiring) == seen {
                    pthread_cond_wait(&wake, &mutex)
                }
                pthread_mutex_unlock(&mutex)
                idleSince = monotonicSeconds()
            }
            seen = generation.load(ordering: .acquiring)
            if index < jobCount, let job { job(index) }
            remaining.subtract(1, ordering: .releasing)
        }
    }
}

/// What a new worker thread is given.
private final class WorkerStart {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { (self.pool, self.index) = (pool, index) }
}
