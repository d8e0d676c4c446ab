import XCTest
import ModelFormats
import ModelIR
import ModelRuntime
@testable import ModelTraining

/// Whole models: training steps lower the loss, export changes only tensor values, and the
/// trained tensors are the ones the paper's retraining updates.
final class TrainerTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func fixture(_ name: String) throws -> Model {
        try ONNXReader.read(path: root.appendingPathComponent("Fixtures/models/\(name).onnx").path)
    }

    /// 32 Fashion-MNIST images scaled to [0, 1], and their labels.
    static func batch(_ count: Int = 32) throws -> (RuntimeTensor, [Int]) {
        let images = try Data(contentsOf: root.appendingPathComponent("Fixtures/fashion-mnist/images.npy"))
        let labels = try Data(contentsOf: root.appendingPathComponent("Fixtures/fashion-mnist/labels.npy"))
        // .npy v1: 10-byte preamble + header length at bytes 8..9.
        func payload(_ d: Data) -> Data {
            let header = Int(d[8]) | Int(d[9]) << 8
            return d.subdata(in: (10 + header)..<d.count)
        }
        let pixels = payload(images).prefix(count * 784).map { Float($0) / 255 }
        let raw = payload(labels)
        let width = raw.count / 1000
        let ys = (0..<count).map { i in Int(raw[raw.startIndex + i * width]) }
        return (try RuntimeTensor(shape: [count, 1, 28, 28], floats: Array(pixels)), ys)
    }

    func testEveryFixtureTrainsAndLossFalls() throws {
        let (x, y) = try Self.batch()
        for name in ["lenet", "lenet_dynamo", "vgg_style", "resnet_style", "mobilenet_style", "inception_style"] {
            let model = try Self.fixture(name)
            let trainer = try Trainer(model: model, threads: 2, seed: 1)
            XCTAssertFalse(trainer.trainedTensors.isEmpty, name)
            let optimizer = Optimizer(OptimizerSettings(kind: .adam))
            var losses: [Double] = []
            for _ in 0..<6 {
                let step = try trainer.gradients(input: x, labels: y)
                losses.append(step.loss)
                try optimizer.step(trainer, step.gradients, learningRate: 1e-3)
            }
            XCTAssertLessThan(losses.last!, losses.first!, "\(name): losses \(losses)")
            // The exported model runs in the inference runtime and differs from the original only in values.
            let trained = trainer.exportModel()
            // Only the Identity copies of initializers (an exporter's de-duplication, e.g. of BN
            // running variances that are all ones) become initializers of their own.
            let names = Set(model.graph.initializers.map(\.name))
            let copies = model.graph.nodes.filter { $0.opType == "Identity" && names.contains($0.inputs[0]) }
            XCTAssertEqual(trained.graph.nodes, model.graph.nodes.filter { n in !copies.contains(n) }, name)
            XCTAssertEqual(trained.graph.initializers.map(\.name), model.graph.initializers.map(\.name) + copies.map { $0.outputs[0] }, name)
            XCTAssertEqual(Array(trained.graph.initializers.map(\.dims).prefix(names.count)), model.graph.initializers.map(\.dims), name)
            XCTAssertNotEqual(Array(trained.graph.initializers.prefix(names.count)), model.graph.initializers, name)
            let out = try Interpreter(model: trained, threads: 1).run(inputs: [trainer.inputName: x])
            XCTAssertEqual(out.values.first?.shape, [32, 10], name)
        }
    }

    func testBatchNormModelsUpdateRunningStatistics() throws {
        let model = try Self.fixture("resnet_style")
        let trainer = try Trainer(model: model, threads: 1)
        XCTAssertFalse(trainer.runningStatistics.isEmpty)
        let (x, y) = try Self.batch(8)
        _ = try trainer.gradients(input: x, labels: y)
        let trained = trainer.exportModel()
        let before = model.graph.initializerIndex, after = trained.graph.initializerIndex
        for name in trainer.runningStatistics { XCTAssertNotEqual(before[name], after[name], name) }
    }

    func testDeduplicatedWeightsTrainAsCopiesAndUnsupportedNodesAreListed() throws {
        // x → MatMul(W) → Identity-copy of W read by a second MatMul → LRN-free output.
        let w = Tensor(name: "W", floats: [1, 2, 3, 4], dims: [2, 2])
        var graph = Graph(nodes: [
            Node(name: "dup", opType: "Identity", inputs: ["W"], outputs: ["W2"]),
            Node(name: "mm1", opType: "MatMul", inputs: ["x", "W"], outputs: ["h"]),
            Node(name: "mm2", opType: "MatMul", inputs: ["h", "W2"], outputs: ["y"]),
        ], inputs: [ValueInfo(name: "x", tensor: TensorType(.float, Shape(fixed: [1, 2])))],
           outputs: [ValueInfo(name: "y", tensor: TensorType(.float, Shape(fixed: [1, 2])))], initializers: [w])
        let trainer = try Trainer(model: Model(graph: graph))
        XCTAssertEqual(trainer.trainedTensors.map(\.name).sorted(), ["W", "W2"])
        let step = try trainer.gradients(input: try RuntimeTensor(shape: [1, 2], floats: [1, -1]), labels: [0])
        XCTAssertNotEqual(step.gradients[0].floats, step.gradients[1].floats)

        graph.nodes.append(Node(name: "lrn", opType: "LRN", inputs: ["y"], outputs: ["z"], attributes: [Attribute("size", .int(1))]))
        graph.nodes.append(Node(name: "pow", opType: "Pow", inputs: ["z", "W"], outputs: ["q"]))
        graph.outputs = [ValueInfo(name: "q", tensor: TensorType(.float, Shape(fixed: [2, 2])))]
        XCTAssertThrowsError(try Trainer(model: Model(graph: graph))) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("2 node(s)") && message.contains("lrn (LRN)") && message.contains("pow (Pow)"), message)
        }
    }
}
