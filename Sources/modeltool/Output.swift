import Datasets
import Foundation
import ModelRuntime

/// Plain-text tables: columns padded to their widest cell; numeric columns right-aligned.
struct TextTable {
    var header: [String]
    var rightAligned: Set<Int> = []
    var rows: [[String]] = []

    mutating func add(_ row: [String]) { rows.append(row) }

    /// Columns are padded to at most this width; a longer cell overflows its own row only. Padding
    /// every row to one huge cell (a Sum of 10,000 inputs lists 10,000 shapes) made the table's
    /// size the product of the row count and that cell.
    static let maxPaddedWidth = 160

    func render(indent: String = "  ") -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], min(c.count, TextTable.maxPaddedWidth)) } }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { i, c -> String in
                let pad = String(repeating: " ", count: max(0, widths[i] - c.count))
                return rightAligned.contains(i) ? pad + c : (i == cells.count - 1 ? c : c + pad)
            }
            return indent + padded.joined(separator: "  ")
        }
        return ([line(header), indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
                + rows.map(line)).joined(separator: "\n")
    }
}

/// Input shapes as `--input-shape` takes them: "x=1,3,640,640 y=1,10", sorted by name.
func inputShapesText(_ shapes: [String: [Int]]) -> String {
    shapes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.map(String.init).joined(separator: ","))" }
        .joined(separator: " ")
}

/// 1234567 -> "1,234,567".
func grouped(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out += "," }
        out.append(ch)
    }
    return n < 0 ? "-" + out : out
}

/// 1234567 -> "1.23M".
func humanCount(_ n: Int) -> String {
    let v = Double(n)
    switch v {
    case 1e9...: return String(format: "%.2fG", v / 1e9)
    case 1e6...: return String(format: "%.2fM", v / 1e6)
    case 1e3...: return String(format: "%.1fK", v / 1e3)
    default: return String(n)
    }
}

/// Prints `value` as pretty JSON with sorted keys (stable for scripts and tests).
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    // JSON has no infinities or NaN (an output that changed shape reports an infinite deviation):
    // they are written as strings, which Python's json and jq read back.
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity",
                                                                  nan: "NaN")
    let skipped = skippedImages.entries
    let data = skipped.isEmpty ? try encoder.encode(value) : try encoder.encode(WithSkippedImages(value: value, files: skipped))
    print(String(decoding: data, as: UTF8.self))
}

/// A command's JSON result with `"skippedImages": {"count": N, "files": [{"file", "error"}]}`
/// added beside its own keys (`--skip-bad` left images out).
private struct WithSkippedImages<T: Encodable>: Encodable {
    var value: T
    var files: [SkippedImages.Entry]

    struct Report: Encodable {
        var count: Int
        var files: [SkippedImages.Entry]
    }

    enum Key: String, CodingKey { case skippedImages }

    func encode(to encoder: Encoder) throws {
        // JSONEncoder merges a second keyed container at the same level into the same object.
        try value.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(Report(count: files.count, files: files), forKey: .skippedImages)
    }
}

/// The slowest steps of a profiled run: time per sample and share of the time in nodes.
func printProfile(_ times: [Interpreter.StepTime], samples: Int, rows: Int = 15) {
    let total = times.reduce(0) { $0 + $1.seconds }
    guard total > 0, samples > 0 else { return }
    var table = TextTable(header: ["node", "op", "µs/sample", "share"], rightAligned: [2, 3])
    for t in times.prefix(rows) {
        table.add([t.node, t.op, String(format: "%.2f", t.seconds / Double(samples) * 1e6),
                   String(format: "%.1f%%", 100 * t.seconds / total)])
    }
    print("")
    let shown = times.count > rows ? " (the slowest \(rows) of \(times.count) steps)" : ""
    print(String(format: "time in nodes: %.2f µs/sample", total / Double(samples) * 1e6) + shown)
    print(table.render())
}
