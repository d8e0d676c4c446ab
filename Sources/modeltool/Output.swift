import Foundation

/// Plain-text tables: columns padded to their widest cell; numeric columns right-aligned.
struct TextTable {
    var header: [String]
    var rightAligned: Set<Int> = []
    var rows: [[String]] = []

    mutating func add(_ row: [String]) { rows.append(row) }

    func render(indent: String = "  ") -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
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
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
