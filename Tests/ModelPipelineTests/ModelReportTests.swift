import ModelIR
import ModelPipeline
import XCTest

final class ModelReportTests: XCTestCase {
    func testLeNetReportsEveryLayerWithItsShapesAndCounts() throws {
        let model = try ModelFile.open(lenet)
        let report = try ModelReport(model: model, file: "lenet.onnx", batch: 1)
        XCTAssertEqual(report.layers.count, model.graph.nodes.count)
        XCTAssertEqual(report.opsets.keys.sorted(), ["ai.onnx"])
        XCTAssertTrue(report.unsupported.isEmpty)
        XCTAssertTrue(report.layersWithUnknownMACs.isEmpty)
        XCTAssertEqual(report.totalParams, report.layers.reduce(0) { $0 + $1.params })
        XCTAssertGreaterThan(report.totalMACs, 0)
        XCTAssertEqual(report.macsBatch, 1)
        XCTAssertFalse(report.inputs.contains { $0.type == "?" })
    }

    /// Either spelling of the default domain is shown as "ai.onnx"; an operator of another
    /// domain is unsupported, with its set's version, or none when the model does not import it.
    func testDomainsAreNormalisedAndUnsupportedNodesNamed() throws {
        let nodes = [Node(name: "r", opType: "Relu", inputs: ["x"], outputs: ["y"]),
                     Node(name: "c", opType: "Custom", domain: "com.example", inputs: ["y"], outputs: ["z"]),
                     Node(name: "d", opType: "Other", domain: "org.missing", inputs: ["z"], outputs: ["w"])]
        var model = apozModel(nodes, outputs: ["w"])
        model.opsetImports = [OpsetImport(domain: "ai.onnx", version: 13), OpsetImport(domain: "com.example", version: 2)]
        let report = try ModelReport(model: model, file: "m.onnx", batch: 1)
        XCTAssertEqual(report.opsets, ["ai.onnx": 13, "com.example": 2])
        XCTAssertEqual(report.unsupported.map(\.node), ["c", "d"])
        XCTAssertEqual(report.unsupported.map(\.domain), ["com.example", "org.missing"])
        XCTAssertEqual(report.unsupported.map(\.opset), [2, nil])
    }
}
