import FileIO
import Foundation

/// A histogram of channel APoZ per observed layer, one panel each (as in the paper's Figure 2),
/// drawn as a standalone SVG. Bars count channels per 5% APoZ bin; a dashed line marks the
/// layer's mean + 1 std, above which the paper trims.
struct ApozPlot {
    let report: ApozReport
    let title: String

    init(_ report: ApozReport, title: String) {
        self.report = report
        self.title = title
    }

    static let bins = 20
    static let panelWidth = 380.0, panelHeight = 250.0
    static let margin = (left: 56.0, right: 16.0, top: 46.0, bottom: 44.0)

    func write(to path: String) throws {
        let bytes = Array(svg().utf8)
        try AtomicFile.write(to: path) { sink in sink.write(bytes) }
    }

    func svg() -> String {
        let columns = max(1, min(3, report.layers.count))
        let rows = (report.layers.count + columns - 1) / columns
        let header = 54.0
        let width = Double(columns) * ApozPlot.panelWidth
        let height = header + Double(max(rows, 1)) * ApozPlot.panelHeight
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="24" font-size="16" font-weight="bold" text-anchor="middle">APoZ per channel: \(xml(title))</text>
            <text x="\(f(width / 2))" y="42" font-size="12" text-anchor="middle" fill="#444">\(report.samples) samples; bars count channels per 5% bin; dashed line: layer mean + 1 std</text>

            """
        for (k, layer) in report.layers.enumerated() {
            let x = Double(k % columns) * ApozPlot.panelWidth
            let y = header + Double(k / columns) * ApozPlot.panelHeight
            out += panel(layer, x: x, y: y)
        }
        out += "</svg>\n"
        return out
    }

    private func panel(_ layer: ApozReport.Layer, x: Double, y: Double) -> String {
        let m = ApozPlot.margin
        let plotW = ApozPlot.panelWidth - m.left - m.right
        let plotH = ApozPlot.panelHeight - m.top - m.bottom
        let left = x + m.left, top = y + m.top, bottom = top + plotH
        var counts = [Int](repeating: 0, count: ApozPlot.bins)
        for a in layer.apoz {
            counts[min(ApozPlot.bins - 1, max(0, Int(a * Double(ApozPlot.bins))))] += 1
        }
        let (yMax, step) = niceAxis(counts.max() ?? 0)
        var s = "<g>\n"
        let producer = layer.producers.map(\.name).joined(separator: " + ")
        s += text(x + ApozPlot.panelWidth / 2, y + 16, 13, "middle", shorten(layer.tensor, 48), bold: true)
        s += text(x + ApozPlot.panelWidth / 2, y + 32, 11, "middle",
                  "channels of \(shorten(producer, 34)) · \(layer.channels) ch · mean \(String(format: "%.1f", 100 * layer.summary.mean))%",
                  fill: "#444")
        // Grid and y axis.
        var v = 0
        while v <= yMax {
            let ty = bottom - Double(v) / Double(yMax) * plotH
            s += "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(left + plotW))\" y2=\"\(f(ty))\" stroke=\"#e4e4e4\"/>\n"
            s += text(left - 6, ty + 4, 10, "end", String(v))
            v += step
        }
        // Bars.
        let barW = plotW / Double(ApozPlot.bins)
        for (b, c) in counts.enumerated() where c > 0 {
            let h = Double(c) / Double(yMax) * plotH
            s += "<rect x=\"\(f(left + Double(b) * barW + 1))\" y=\"\(f(bottom - h))\" width=\"\(f(barW - 2))\" height=\"\(f(h))\" fill=\"#4878b0\"><title>\(b * 5)–\(b * 5 + 5)%: \(c) channel(s)</title></rect>\n"
        }
        // Threshold line at mean + 1 std.
        let threshold = min(1, layer.summary.threshold)
        let tx = left + threshold * plotW
        s += "<line x1=\"\(f(tx))\" y1=\"\(f(top))\" x2=\"\(f(tx))\" y2=\"\(f(bottom))\" stroke=\"#c0392b\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"/>\n"
        // Axes, x ticks and labels.
        s += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(left + plotW))\" y2=\"\(f(bottom))\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(bottom))\" stroke=\"black\"/>\n"
        for p in stride(from: 0, through: 100, by: 20) {
            let px = left + Double(p) / 100 * plotW
            s += "<line x1=\"\(f(px))\" y1=\"\(f(bottom))\" x2=\"\(f(px))\" y2=\"\(f(bottom + 4))\" stroke=\"black\"/>\n"
            s += text(px, bottom + 16, 10, "middle", "\(p)%")
        }
        s += text(left + plotW / 2, bottom + 32, 11, "middle", "APoZ (% of zero activations)")
        let ly = top + plotH / 2
        s += "<text x=\"\(f(x + 16))\" y=\"\(f(ly))\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 \(f(x + 16)) \(f(ly)))\">channels</text>\n"
        s += "</g>\n"
        return s
    }

    /// An axis top and tick step for counts up to `maximum`: 1, 2 or 5 times a power of ten, about 5 ticks.
    private func niceAxis(_ maximum: Int) -> (top: Int, step: Int) {
        let target = max(1, maximum)
        var power = 1
        while true {
            for m in [1, 2, 5] where (target + m * power - 1) / (m * power) <= 5 {
                let step = m * power
                return ((target + step - 1) / step * step, step)
            }
            power *= 10
        }
    }

    private func text(_ x: Double, _ y: Double, _ size: Int, _ anchor: String, _ content: String,
                      bold: Bool = false, fill: String = "black") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\" fill=\"\(fill)\"\(bold ? " font-weight=\"bold\"" : "")>\(xml(content))</text>\n"
    }

    private func shorten(_ s: String, _ n: Int) -> String { s.count <= n ? s : "…" + s.suffix(n - 1) }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private func xml(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }
}
