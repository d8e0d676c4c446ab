import Foundation
import ModelTrimming

/// What `trim` did, as JSON and as the printed plan/report.
struct TrimOutcome: Encodable {
    struct Group: Encodable {
        var group: Int
        var layers: [String]
        var selected: Bool
        var channelsBefore: Int
        var channelsAfter: Int
        var meanAPoZ: Double?
        var threshold: Double?
        var removed: [Int]
        var barriers: [String]
    }

    var model: String
    var statistics: String
    var samples: UInt64
    var groups: [Group]
    var paramsBefore: Int
    var paramsAfter: Int
    var macsBefore: Int
    var macsAfter: Int
    var compressionRate: Double
    var notes: [String]
    var written: String?
    var maxDeviation: Double?
    var accuracyBefore: Double?
    var accuracyAfter: Double?
    var dryRun = false

    init(model: String, plan: TrimPlan, report: TrimReport, statistics: String, samples: UInt64) {
        self.model = model
        self.statistics = statistics
        self.samples = samples
        groups = report.rows.map {
            Group(group: $0.group, layers: $0.layers, selected: $0.selected, channelsBefore: $0.channelsBefore,
                  channelsAfter: $0.channelsAfter, meanAPoZ: $0.meanAPoZ, threshold: $0.threshold, removed: $0.removed,
                  barriers: $0.barriers)
        }
        paramsBefore = report.paramsBefore
        paramsAfter = report.paramsAfter
        macsBefore = report.macsBefore
        macsAfter = report.macsAfter
        compressionRate = report.compressionRate
        notes = report.notes + plan.notes
    }

    var text: String {
        var out = ["\(model): APoZ from \(statistics) (\(samples) samples)", ""]
        var table = TextTable(header: ["group", "layers", "channels", "mean APoZ", "threshold", "status"],
                              rightAligned: [0, 3, 4])
        for g in groups {
            let status: String
            if !g.barriers.isEmpty {
                status = "kept: " + g.barriers.joined(separator: "; ").replacingOccurrences(of: "allowOutputChange", with: "--allow-output-change")
            } else if !g.selected {
                status = "not selected"
            } else {
                status = g.removed.isEmpty ? "nothing above the threshold" : "\(dryRun ? "would trim" : "trimmed") \(g.removed.count)"
            }
            table.add([String(g.group), g.layers.joined(separator: ", "), "\(g.channelsBefore) -> \(g.channelsAfter)",
                       g.meanAPoZ.map { String(format: "%.3f", $0) } ?? "-", g.threshold.map { String(format: "%.3f", $0) } ?? "-",
                       status])
        }
        out.append(table.render())
        out.append("")
        out.append("  parameters  \(grouped(paramsBefore)) -> \(grouped(paramsAfter))  (compression rate \(String(format: "%.2f", compressionRate))x)")
        out.append("  MACs        \(grouped(macsBefore)) -> \(grouped(macsAfter))")
        if let before = accuracyBefore, let after = accuracyAfter {
            out.append(String(format: "  accuracy    %.2f%% -> %.2f%% (top-1)", 100 * before, 100 * after))
        }
        if let written {
            out.append("  written     \(written)")
            if let d = maxDeviation { out.append(String(format: "  check       re-read; largest output change on 8 samples: %.3g", d)) }
        } else {
            out.append("  dry run     nothing written")
        }
        for n in notes { out.append("  note        \(n)") }
        return out.joined(separator: "\n")
    }
}
