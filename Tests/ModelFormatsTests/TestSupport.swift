import Foundation
import ModelIR
import XCTest

/// The repository root, found from this file's location.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// ../shared/onnx-backend-data, or a skip with a message when it is absent.
func backendDataDirectory() throws -> URL {
    let dir = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/onnx-backend-data")
    guard FileManager.default.fileExists(atPath: dir.path) else {
        throw XCTSkip("../shared/onnx-backend-data is absent; backend-data tests skipped")
    }
    return dir
}

/// Every model.onnx below `dir`, sorted.
func modelFiles(under dir: URL) -> [URL] {
    let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)
    var out: [URL] = []
    while let u = e?.nextObject() as? URL { if u.pathExtension == "onnx" { out.append(u) } }
    return out.sorted { $0.path < $1.path }
}

/// A fresh temporary folder, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("modeltool-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// A one-node model y = Relu(x + w) with a float initializer, for writer tests.
func smallModel(weights: [Float] = [1, -2, 3, -4, 5, -6], dims: [Int] = [2, 3]) -> Model {
    let w = Tensor(name: "w", floats: weights, dims: dims)
    let graph = Graph(
        name: "g",
        nodes: [
            Node(name: "add", opType: "Add", inputs: ["x", "w"], outputs: ["s"]),
            Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["y"]),
        ],
        inputs: [ValueInfo(name: "x", tensor: TensorType(.float, Shape([.symbol("batch"), .fixed(2), .fixed(3)])))],
        outputs: [ValueInfo(name: "y", tensor: TensorType(.float, nil))],
        initializers: [w])
    return Model(irVersion: 10, opsetImports: [OpsetImport(domain: "", version: 17)], producerName: "tests", graph: graph)
}
