import ArgumentParser
import ModelFormats
import ModelIR
import ModelPipeline
import ModelRuntime

/// `modeltool info FILE`: what a model is made of.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a model's layers, shapes, parameters and MACs.",
        discussion: """
        Prints the producer, IR version, operator sets, inputs and outputs, then one row per layer:
        op type, input shapes -> output shape, parameters and MACs, then totals. A symbolic batch
        dimension stays symbolic in the shapes; MACs are counted for --batch samples (default 1).
        --input-shape NAME=1,3,640,640 (repeatable) gives an input concrete dimensions: every shape
        that follows from them, and every MAC count, becomes concrete (dynamic height and width
        otherwise leave layers' MACs unknown).

        Counting conventions (those of onnx-tool's profiler):
          parameters  elements of the initializers a layer reads (weights, biases, BatchNorm
                      statistics, PRelu slopes, Resize scales); not Constant nodes' outputs, nor
                      initializers read only by Reshape, Gather, Concat, Slice, Pad, Cast, Squeeze,
                      Unsqueeze, Shape or Identity; a tensor read by several layers counts once.
          MACs        one multiply-accumulate = one MAC (FLOPs = 2 x MACs). Conv:
                      N*Cout*Hout*Wout*(Cin/group)*kH*kW (+1 per output with a bias); Gemm/MatMul:
                      M*N*K (+M*N for a bias); pooling: outputs x kernel size; element-wise ops and
                      activations: a fixed cost per output element (Relu 1, Div 4, Exp/Sigmoid 32, ...);
                      shape and data-movement ops: 0.

        Operators the runtime cannot execute are all listed, with node names.

        APoZ: --apoz stats.json (from `modeltool apoz`) or --data X (collected now) adds, per observed layer, the mean, std, min and max of its channels' APoZ and the number of channels above mean + 1 std (the paper's trimming criterion); --channels lists every channel, --plot writes a histogram per layer as SVG.

        """ + observationHelp
    )

    @Argument(help: "The model file (.onnx, Keras .h5 or .keras).") var file: String
    @Option(help: "Format of the input, when its extension does not say.") var format: ModelFormat?
    @Option(help: "The model's Keras config (to_json() text), for a weights-only .h5.") var config: String?
    @Option(help: "Batch size the MACs are counted for (default 1); with --data also samples per batch (default 64).")
    var batch: Int?
    @Option(name: .customLong("input-shape"),
            help: ArgumentHelp("Concrete dimensions of an input, for shapes and MACs (repeatable).", valueName: "name=d1,d2,..."))
    var inputShape: [InputShape] = []
    @Flag(help: "Print the same information as JSON.") var json = false
    @OptionGroup(title: "APoZ") var apozOptions: ApozInfoOptions

    func validate() throws {
        if let batch, batch <= 0 { throw ValidationError("--batch must be positive") }
        let names = inputShape.map(\.name)
        if let twice = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw ValidationError("--input-shape names input '\(twice)' twice")
        }
    }

    func run() throws {
        try runReportingErrors {
            let model = try ModelFile.open(file, format: format, kerasConfig: config)
            let shapes = Dictionary(inputShape.map { ($0.name, $0.dims) }, uniquingKeysWith: { a, _ in a })
            let report: ModelReport
            do {
                report = try ModelReport(model: model, file: file, batch: batch ?? 1, inputShapes: shapes)
            } catch let e as ModelError {
                throw e.at(file)
            }
            var apoz: ApozReport?
            if apozOptions.wanted {
                let stats = try apozOptions.statistics(model: model, file: file, batch: batch)
                let a = ApozReport(stats, source: apozOptions.apoz ?? apozOptions.data ?? "")
                if let plot = apozOptions.plot { try ApozPlot(a, title: file).write(to: plot) }
                apoz = a
            }
            if json {
                try printJSON(InfoJSON(report: report, apoz: apoz))
            } else {
                print(report.text + (apoz.map { $0.text(channels: apozOptions.channels) } ?? ""))
            }
        }
    }
}

/// `--input-shape NAME=1,3,640,640`: an input's name (which may itself hold '=') and its dimensions.
struct InputShape: ExpressibleByArgument {
    var name: String
    var dims: [Int]

    init?(argument: String) {
        guard let eq = argument.lastIndex(of: "="), eq != argument.startIndex else { return nil }
        let parts = argument[argument.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false)
        let dims = parts.compactMap { Int($0) }
        guard !parts.isEmpty, dims.count == parts.count, dims.allSatisfy({ $0 > 0 }) else { return nil }
        name = String(argument[..<eq])
        self.dims = dims
    }
}

/// `info --json`: the report's fields, with the APoZ summary beside them when asked for.
struct InfoJSON: Encodable {
    var report: ModelReport
    var apoz: ApozReport?

    private enum Key: String, CodingKey { case apoz }

    func encode(to encoder: Encoder) throws {
        try report.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encodeIfPresent(apoz, forKey: .apoz)
    }
}

/// The report as `info` prints it.
/// A list of shapes, its middle elided past 8 entries: "a, b, c, … (10,000 inputs), z".
private func abbreviated(_ shapes: [String]) -> String {
    guard shapes.count > 8 else { return shapes.joined(separator: ", ") }
    return (shapes.prefix(3) + ["… (\(grouped(shapes.count)) in all)"] + shapes.suffix(1)).joined(separator: ", ")
}

extension ModelReport {
    var text: String {
        var out: [String] = [file]
        let producerText = producer.isEmpty ? "(not recorded)" : "\(producer) \(producerVersion)"
        out.append("  producer    \(producerText)")
        out.append("  IR version  \(irVersion)")
        out.append("  opsets      " + opsets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        out.append("  inputs      " + inputs.map { "\($0.name) \($0.type)" }.joined(separator: ", "))
        out.append("  outputs     " + outputs.map { "\($0.name) \($0.type)" }.joined(separator: ", "))
        out.append("")
        var table = TextTable(header: ["#", "layer", "op", "shapes", "params", "MACs"], rightAligned: [0, 4, 5])
        for (i, l) in layers.enumerated() {
            let shapes = abbreviated(l.inputs) + " -> " + abbreviated(l.outputs)
            table.add([String(i), l.name, l.op, shapes, l.params > 0 ? grouped(l.params) : "-",
                       l.macs.map { $0 > 0 ? grouped($0) : "-" } ?? "?"])
        }
        out.append(table.render())
        out.append("")
        let context = inputShapes.isEmpty ? "" : " for inputs \(inputShapesText(inputShapes)),"
        out.append("  total       \(grouped(totalParams)) parameters (\(humanCount(totalParams))), \(grouped(totalMACs)) MACs (\(humanCount(totalMACs)))\(context) with symbolic batch dimensions set to \(macsBatch)")
        if !layersWithUnknownMACs.isEmpty {
            out.append("  unknown     MACs of \(layersWithUnknownMACs.count) layer(s) with unknown shapes are left out: \(layersWithUnknownMACs.joined(separator: ", "))")
        }
        if unsupported.isEmpty {
            out.append("  runtime     every operator is supported")
        } else {
            out.append("  runtime     \(unsupported.count) node(s) the runtime cannot execute:")
            for u in unsupported {
                out.append("                \(u.node): \(u.domain)::\(u.op) (opset \(u.opset.map(String.init) ?? "not imported"))")
            }
        }
        return out.joined(separator: "\n")
    }
}
