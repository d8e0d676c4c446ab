import ArgumentParser
import ModelFormats
import ModelIR

/// `modeltool info FILE`: what a model is made of.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a model's layers, shapes, parameters and MACs.")

    @Argument(help: "The model file.") var file: String
    @Option(help: "Format of the input, when its extension does not say.") var format: ModelFormat?

    func run() throws {
        try runReportingErrors {
            let model = try loadModel(file, format: format)
            print("\(file): producer \(model.producerName) \(model.producerVersion), IR \(model.irVersion), \(model.graph.nodes.count) nodes")
        }
    }
}
