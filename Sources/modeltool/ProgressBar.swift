import ModelPipeline
import ModelRuntime

#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on standard error, drawn only when it is a terminal; fed by the
/// library's batch-loop progress callback.
final class ProgressBar {
    private let unit: String
    private let enabled: Bool
    private var start = monotonicSeconds()
    private var lastDraw = 0.0

    init(unit: String, enabled: Bool = isatty(2) != 0) {
        self.unit = unit
        self.enabled = enabled
    }

    /// A new bar's callback, for one batch loop.
    static func callback(unit: String) -> BatchProgress {
        let bar = ProgressBar(unit: unit)
        return { done, total in bar.draw(done: done, total: total) }
    }

    /// Draws the bar; a call with `done == 0` (the loop starting) only starts the clock.
    func draw(done: Int, total: Int) {
        guard done > 0 else {
            start = monotonicSeconds()
            return
        }
        guard enabled else { return }
        let now = monotonicSeconds()
        guard now - lastDraw > 0.1 || done >= total else { return }
        lastDraw = now
        let elapsed = now - start
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let width = 30
        let filled = total > 0 ? min(width, width * done / total) : width
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        fputs("\r[\(bar)] \(done)/\(total) \(unit)  \(Int(rate)) \(unit)/s  ETA \(clock(eta))  ", stderr)
        if done >= total { fputs("\n", stderr) }
    }

    private func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
