import Foundation
import ModelRuntime

/// A problem with a statistics file or with combining statistics; the message is one line.
public struct StatisticsError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The contents of an APoZ statistics file (docs/APOZ-STATS.md): which model, which samples, and
/// per observed tensor the exact per-channel counts. Files from shards of one data set add up
/// with `merged(_:)`.
public struct ApozStatistics: Codable, Sendable, Equatable {
    /// The value of `format` in every statistics file.
    public static let formatName = "modeltool-apoz-stats"
    /// The format version this code reads and writes.
    public static let currentVersion = 1

    /// One collection run: which samples of which data set.
    public struct Run: Codable, Sendable, Equatable {
        /// The data set as given on the command line (path, or path:member).
        public var data: String
        /// Samples in the data set.
        public var datasetSamples: Int
        /// The selected sample indices, `first ..< first + count`.
        public var first: Int
        public var count: Int
        /// `--limit` and `--shard i/n` as given (nil when absent).
        public var limit: Int?
        public var shard: String?
        /// The preprocessing applied, in words (e.g. "scale 0.00392157").
        public var preprocessing: String
        /// Samples that held a NaN or infinite input value.
        public var samplesWithNonFiniteInput: Int

        public init(data: String, datasetSamples: Int, first: Int, count: Int, limit: Int?, shard: String?,
                    preprocessing: String, samplesWithNonFiniteInput: Int) {
            self.data = data
            self.datasetSamples = datasetSamples
            self.first = first
            self.count = count
            self.limit = limit
            self.shard = shard
            self.preprocessing = preprocessing
            self.samplesWithNonFiniteInput = samplesWithNonFiniteInput
        }
    }

    public var format: String
    public var version: Int
    /// `ModelFingerprint` of the model's graph and weights ("sha256:…").
    public var fingerprint: String
    /// The model file the first run read (informational; the fingerprint is what is checked).
    public var modelFile: String
    /// Samples over all runs.
    public var samples: UInt64
    public var runs: [Run]
    public var tensors: [TensorStatistics]

    public init(fingerprint: String, modelFile: String, runs: [Run], tensors: [TensorStatistics]) {
        format = ApozStatistics.formatName
        version = ApozStatistics.currentVersion
        self.fingerprint = fingerprint
        self.modelFile = modelFile
        samples = runs.reduce(0) { $0 + UInt64($1.count) }
        self.runs = runs
        self.tensors = tensors
    }

    /// Adds `others` to these statistics, count for count.
    /// - Throws: when they come from another model, observe other tensors, or cover the same
    ///   samples twice (the same shard merged twice would double its counts).
    public func merged(_ others: [ApozStatistics], names: [String]) throws -> ApozStatistics {
        var result = self
        let first = names.first ?? "first file"
        for (k, other) in others.enumerated() {
            let name = k + 1 < names.count ? names[k + 1] : "file \(k + 2)"
            guard other.fingerprint == fingerprint else {
                throw StatisticsError("\(name) was collected on a different model than \(first) (fingerprint \(other.fingerprint.prefix(19))… vs \(fingerprint.prefix(19))…)")
            }
            guard other.tensors.map(\.tensor) == tensors.map(\.tensor) else {
                throw StatisticsError("\(name) observes tensors [\(other.tensors.map(\.tensor).joined(separator: ", "))] but \(first) observes [\(tensors.map(\.tensor).joined(separator: ", "))]")
            }
            for (t, o) in zip(tensors, other.tensors) where t.channels != o.channels {
                throw StatisticsError("\(name): tensor '\(t.tensor)' has \(o.channels) channels, \(t.channels) in \(first)")
            }
            for (t, o) in zip(tensors, other.tensors) where (t.channelsLast == true) != (o.channelsLast == true) {
                throw StatisticsError("\(name): tensor '\(t.tensor)' counts channels along \(o.channelsLast == true ? "the last axis" : "axis 1"), \(first) along \(t.channelsLast == true ? "the last axis" : "axis 1")")
            }
            for (t, o) in zip(tensors, other.tensors) where t.countedRegion != o.countedRegion || t.input != o.input {
                throw StatisticsError("\(name): tensor '\(t.tensor)' counts \(o.countedRegion.rawValue) of '\(o.input ?? o.tensor)', \(first) \(t.countedRegion.rawValue) of '\(t.input ?? t.tensor)'")
            }
            for run in other.runs {
                if let twin = result.runs.first(where: { $0.data == run.data && $0.first < run.first + run.count && run.first < $0.first + $0.count }) {
                    throw StatisticsError("\(name) covers samples \(run.first)..<\(run.first + run.count) of \(run.data), which overlap samples \(twin.first)..<\(twin.first + twin.count) already merged; each shard must be merged once")
                }
                result.runs.append(run)
            }
            let (total, overflow) = result.samples.addingReportingOverflow(other.samples)
            guard !overflow else { throw StatisticsError("\(name): the sample count overflows") }
            result.samples = total
            for i in result.tensors.indices {
                try result.tensors[i].add(other.tensors[i], file: name)
            }
        }
        return result
    }

    /// Reads a statistics file's JSON and checks its structure.
    public static func decode(_ data: Data, file: String) throws -> ApozStatistics {
        let stats: ApozStatistics
        do {
            stats = try JSONDecoder().decode(ApozStatistics.self, from: data)
        } catch let error as DecodingError {
            throw StatisticsError("\(file): not a modeltool APoZ statistics file (\(describe(error)))")
        } catch {
            throw StatisticsError("\(file): not a modeltool APoZ statistics file (\(error))")
        }
        guard stats.format == formatName else {
            throw StatisticsError("\(file): format is '\(stats.format)', expected '\(formatName)'")
        }
        guard stats.version == currentVersion else {
            throw StatisticsError("\(file): format version \(stats.version) is not supported (this modeltool reads version \(currentVersion))")
        }
        for run in stats.runs { try run.validate(in: file) }
        for t in stats.tensors { try t.validate(in: file) }
        return stats
    }

    /// The JSON text, pretty-printed with sorted keys so files diff well.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "" : " at \(p)"
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing '\(key.stringValue)'\(path(c))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type\(path(c))"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "invalid JSON" : "invalid value\(path(c))"
        @unknown default: return "unreadable"
        }
    }
}

extension TensorStatistics {
    /// Adds another file's counts for the same tensor.
    mutating func add(_ other: TensorStatistics, file: String) throws {
        func sum(_ a: inout [UInt64], _ b: [UInt64]) throws {
            for c in a.indices {
                let (v, overflow) = a[c].addingReportingOverflow(b[c])
                guard !overflow else { throw StatisticsError("\(file): counts of tensor '\(tensor)' overflow") }
                a[c] = v
            }
        }
        try sum(&zeros, other.zeros)
        try sum(&positions, other.positions)
        try sum(&nonFinite, other.nonFinite)
        for c in sums.indices {
            sums[c] += other.sums[c]
            sumsOfSquares[c] += other.sumsOfSquares[c]
        }
    }
}

extension ApozStatistics.Run {
    /// Checks that the run's sample range lies inside its data set, so that sums of these
    /// numbers (the overlap check of a merge, the warnings' totals) cannot overflow.
    func validate(in file: String) throws {
        guard datasetSamples >= 0, first >= 0, count >= 0, first <= datasetSamples, count <= datasetSamples - first,
              (0...count).contains(samplesWithNonFiniteInput) else {
            throw StatisticsError("\(file): run on \(data) covers samples \(first) + \(count) of \(datasetSamples) with \(samplesWithNonFiniteInput) non-finite, which do not fit together")
        }
    }
}

extension TensorStatistics {
    /// Checks that every per-channel array has `channels` entries and counts are consistent.
    func validate(in file: String) throws {
        let lengths = [zeros.count, positions.count, nonFinite.count, sums.count, sumsOfSquares.count]
        guard channels >= 0, lengths.allSatisfy({ $0 == channels }) else {
            throw StatisticsError("\(file): tensor '\(tensor)' declares \(channels) channels but its arrays have \(lengths.map(String.init).joined(separator: "/")) entries")
        }
        if countedRegion == .nonPositive && input == nil {
            throw StatisticsError("\(file): tensor '\(tensor)' counts the off region (nonPositive) but names no 'input'")
        }
        // Off-region counts are of the input, non-finite values of the output: each alone is
        // bounded by the positions, not their sum (−inf in, NaN out). zeros + nonFinite is
        // compared without adding: two counts near 2^64 would overflow.
        let apart = countedRegion == .nonPositive
        for c in 0..<channels where zeros[c] > positions[c] || nonFinite[c] > positions[c]
            || (!apart && nonFinite[c] > positions[c] - zeros[c]) {
            throw StatisticsError("\(file): tensor '\(tensor)' channel \(c) counts more zeros or non-finite values than positions")
        }
    }
}
