import Foundation
import ModelPipeline
import ModelTrimming

/// `trim`'s printed plan and report.
extension TrimOutcome {
    /// The plan and report; notes one line per reason with a count and the first subjects,
    /// or (`verbose`) every note.
    func text(verbose: Bool = false) -> String {
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
        let shapes = inputShapesText(macsInputShapes)
        out.append("  MACs        \(grouped(macsBefore)) -> \(grouped(macsAfter))" + (shapes.isEmpty ? "" : "  (inputs \(shapes))"))
        if let before = accuracyBefore, let after = accuracyAfter {
            out.append(String(format: "  accuracy    %.2f%% -> %.2f%% (top-1)", 100 * before, 100 * after))
        }
        if let written {
            out.append("  written     \(written)")
            if let d = maxDeviation { out.append(String(format: "  check       re-read; largest output change on 8 samples: %.3g", d)) }
        } else {
            out.append("  dry run     nothing written")
        }
        if verbose {
            for n in notes { out.append("  note        \(n)") }
        } else {
            for (reason, subjects) in TrimNote.grouped(notes) {
                out.append("  note        " + Self.summary(reason, subjects))
            }
        }
        return out.joined(separator: "\n")
    }

    /// "reason: subject" for one note; "N× reason: a, b, c and N−3 more (--verbose lists them)"
    /// for several.
    static func summary(_ reason: String, _ subjects: [String], shown: Int = 3) -> String {
        guard subjects.count > 1 else { return "\(subjects[0]): \(reason)" }
        var line = "\(subjects.count)× \(reason): " + subjects.prefix(shown).joined(separator: ", ")
        if subjects.count > shown { line += " and \(subjects.count - shown) more (--verbose lists them)" }
        return line
    }
}
