import ArgumentParser
import ModelFormats
import ModelIR
import ModelPipeline
import ModelRuntime

/// `modeltool info FILE`: what a model is made of.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's layers, shapes, parameters and MACs.",
        discussion: """
        Prints the producer, IR version, operator sets, inputs and outputs, then one row per layer:
        op type, input shapes -> output shape, parameters and MACs, then totals. A symbolic batch
        dimension stays symbolic in the shapes; MACs are counted for --batch samples (default 1).

        Counting conventions (those of onnx-tool's profiler):
          parameters  elements of a layer's constant float inputs (weights, biases, BatchNorm
                      statistics, PRelu slopes); integer constants such as shapes are not counted;
                      a tensor read by several layers counts once in the total.
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
    @Flag(help: "Print the same information as JSON.") var json = false
    @OptionGroup(title: "APoZ") var apozOptions: ApozInfoOptions

    func validate() throws {
        if let batch, batch <= 0 { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        try runReportingErrors {
            let model = try ModelFile.open(file, format: format, kerasConfig: config)
            var report = try ModelReport(model: model, file: file, batch: batch ?? 1)
            if apozOptions.wanted {
                let stats = try apozOptions.statistics(model: model, file: file, batch: batch)
                let apoz = ApozReport(stats, source: apozOptions.apoz ?? apozOptions.data ?? "")
                if let plot = apozOptions.plot { try ApozPlot(apoz, title: file).write(to: plot) }
                report.apoz = apoz
            }
            if json {
                try printJSON(report)
            } else {
                print(report.text + (report.apoz.map { $0.text(channels: apozOptions.channels) } ?? ""))
            }
        }
    }
}

/// Everything `info` shows, as data (the JSON form) and as text.
struct ModelReport: Encodable {
    struct Value: Encodable {
        var name: String
        var type: String
    }
    struct Layer: Encodable {
        var name: String
        var op: String
        var inputs: [String]
        var outputs: [String]
        var params: Int
        var macs: Int?
    }
    struct Unsupported: Encodable {
        var node: String
        var op: String
        var domain: String
        var opset: Int64?
    }

    var file: String
    var producer: String
    var producerVersion: String
    var irVersion: Int64
    var opsets: [String: Int64]
    var inputs: [Value]
    var outputs: [Value]
    var layers: [Layer]
    var totalParams: Int
    var totalMACs: Int
    var macsBatch: Int
    var layersWithUnknownMACs: [String]
    var unsupported: [Unsupported]
    /// Per observed layer APoZ, with --apoz or --data.
    var apoz: ApozReport?

    init(model: Model, file: String, batch: Int) throws {
        self.file = file
        producer = model.producerName
        producerVersion = model.producerVersion
        irVersion = model.irVersion
        opsets = Dictionary(model.opsetImports.map { ($0.domain.isEmpty ? "ai.onnx" : $0.domain, $0.version) },
                            uniquingKeysWith: { a, _ in a })
        let types = try model.graph.inferShapes(opset: model.defaultOpset)
        func describe(_ name: String) -> String {
            if let t = types[name] { return t.description }
            return "?"
        }
        inputs = model.graph.runtimeInputs.map { Value(name: $0.name, type: describe($0.name)) }
        outputs = model.graph.outputs.map { Value(name: $0.name, type: describe($0.name)) }
        let profile = try model.profile(batch: batch)
        let constants = Set(model.graph.initializers.map(\.name))
        layers = zip(model.graph.nodes, profile).map { node, p in
            Layer(name: node.displayName, op: node.opType,
                  inputs: node.inputs.filter { !$0.isEmpty && !constants.contains($0) }.map(describe),
                  outputs: node.outputs.filter { !$0.isEmpty }.map(describe), params: p.params, macs: p.macs)
        }
        let totals = ProfileTotals(profile)
        totalParams = totals.params
        totalMACs = totals.macs
        macsBatch = batch
        layersWithUnknownMACs = totals.layersWithUnknownMACs
        let opsetOf = Dictionary(model.opsetImports.map { ($0.domain == "ai.onnx" ? "" : $0.domain, $0.version) },
                                 uniquingKeysWith: { a, _ in a })
        unsupported = Interpreter.unsupportedNodes(in: model).map {
            Unsupported(node: $0.displayName, op: $0.opType, domain: $0.isDefaultDomain ? "ai.onnx" : $0.domain,
                        opset: opsetOf[$0.isDefaultDomain ? "" : $0.domain])
        }
    }

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
            let shapes = l.inputs.joined(separator: ", ") + " -> " + l.outputs.joined(separator: ", ")
            table.add([String(i), l.name, l.op, shapes, l.params > 0 ? grouped(l.params) : "-",
                       l.macs.map { $0 > 0 ? grouped($0) : "-" } ?? "?"])
        }
        out.append(table.render())
        out.append("")
        out.append("  total       \(grouped(totalParams)) parameters (\(humanCount(totalParams))), \(grouped(totalMACs)) MACs (\(humanCount(totalMACs))) with symbolic batch dimensions set to \(macsBatch)")
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
