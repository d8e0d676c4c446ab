import FileIO
import Foundation
import ModelIR

extension ApozStatistics {
    /// Reads and checks a statistics file.
    public static func read(from path: String) throws -> ApozStatistics {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw StatisticsError("\(path): cannot read (\((error as NSError).localizedDescription))")
        }
        return try decode(data, file: path)
    }

    /// Reads a statistics file and checks it was collected on `model` (read from `modelFile`).
    public static func read(from path: String, for model: Model, modelFile: String) throws -> ApozStatistics {
        let stats = try read(from: path)
        guard stats.fingerprint == ModelFingerprint.of(model) else {
            throw StatisticsError("\(path) was collected on a different model (\(stats.modelFile)) than \(modelFile): their graph or weights differ")
        }
        return stats
    }

    /// Writes the statistics atomically (temporary file, fsync, rename).
    public func write(to path: String) throws {
        let bytes = [UInt8](try encoded()) + [0x0a]
        try AtomicFile.write(to: path) { sink in sink.write(bytes) }
    }

    /// Warnings every reader of statistics should see: non-finite inputs and activations.
    public var warnings: [String] {
        var lines: [String] = []
        // Saturating: each run's count is checked on reading, but a merge may add many runs.
        let badSamples = runs.reduce(0) { total, run in
            let (sum, overflow) = total.addingReportingOverflow(run.samplesWithNonFiniteInput)
            return overflow ? Int.max : sum
        }
        if badSamples > 0 {
            lines.append("warning: \(badSamples) of \(samples) samples hold NaN or infinite input values")
        }
        for t in tensors where t.totalNonFinite > 0 {
            lines.append("warning: tensor '\(t.tensor)' has \(t.totalNonFinite) NaN or infinite values (counted apart, not as zeros)")
        }
        return lines
    }
}
