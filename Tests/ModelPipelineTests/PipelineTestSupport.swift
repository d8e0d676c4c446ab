import Foundation
import ModelIR
import ModelPipeline
import XCTest

/// The package root (Fixtures/ lives there).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A fixture file's absolute path.
func fixture(_ path: String) -> String { repositoryRoot.appendingPathComponent(path).path }

/// The bundled LeNet and its Fashion-MNIST slice (1000 samples, uint8, scaled to 0...1).
let lenet = fixture("Fixtures/models/lenet.onnx")
let fashionImages = fixture("Fixtures/fashion-mnist/images.npy")
let fashionLabels = fixture("Fixtures/fashion-mnist/labels.npy")
let fashionScale = DataSettings(preprocessing: .init(scale: 0.00392156862745098))

/// A directory removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("modelpipeline-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// A copy of LeNet in a temporary directory.
func copyOfLeNet(_ test: XCTestCase) throws -> String {
    let path = try temporaryDirectory(test).appendingPathComponent("lenet.onnx").path
    try FileManager.default.copyItem(atPath: lenet, toPath: path)
    return path
}

/// A one-input graph of `nodes` with untyped values (for statistics and fingerprint tests).
func apozModel(_ nodes: [Node], input: String = "x", outputs: [String], initializers: [Tensor] = [],
               opset: Int64 = 13) -> Model {
    Model(opsetImports: [OpsetImport(domain: "", version: opset)],
          graph: Graph(nodes: nodes, inputs: [ValueInfo(name: input)], outputs: outputs.map { ValueInfo(name: $0) },
                       initializers: initializers))
}
