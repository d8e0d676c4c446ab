import Foundation
import ModelIR
import XCTest

@testable import ModelFormats

/// Large initializers read from a file stay in the mapping (LazyRawData) and still read, compare
/// and write back exactly as a full decode would.
final class LazyRawDataTests: XCTestCase {
    /// y = x + big + small, with `big` over LazyRawData's threshold and `small` under it.
    private func model() -> Model {
        let big = Tensor(name: "big", floats: (0..<2048).map { Float($0) * 0.5 - 7 }, dims: [2048])
        let small = Tensor(name: "small", floats: [1, 2, 3, 4], dims: [4])
        let graph = Graph(
            name: "g",
            nodes: [Node(name: "add", opType: "Add", inputs: ["x", "big"], outputs: ["s"]),
                    Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["y"])],
            inputs: [ValueInfo(name: "x", tensor: TensorType(.float, Shape([.symbol("n"), .fixed(2048)])))],
            outputs: [ValueInfo(name: "y", tensor: TensorType(.float, Shape([.symbol("n"), .fixed(2048)])))],
            initializers: [small, big])
        return Model(irVersion: 10, opsetImports: [OpsetImport(domain: "", version: 17)], producerName: "tests", graph: graph)
    }

    private func file(_ bytes: [UInt8]) throws -> String {
        let path = try temporaryDirectory(self).appendingPathComponent("m.onnx").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testLargePayloadsAreCutAndReadBackExactly() throws {
        let bytes = try ONNXWriter.serialize(model())
        let split = try XCTUnwrap(bytes.withUnsafeBufferPointer { LazyRawData.split($0.baseAddress!, count: $0.count) })
        XCTAssertEqual(Array(split.payloads.keys), [1])  // only "big" (index 1) is over the threshold
        XCTAssertEqual(split.payloads[1]?.count, 2048 * 4)
        XCTAssertLessThan(split.message.count, 1024)

        let read = try ONNXReader.read(path: try file(bytes))
        XCTAssertEqual(read.graph.initializers, model().graph.initializers)
        XCTAssertEqual(try read.graph.initializers[1].floats()[3], -5.5)
        // An unchanged model writes back byte for byte, the cut tensor still stored as raw_data.
        XCTAssertEqual(try ONNXWriter.serialize(read), bytes)
        // Dropping the mapping's resident pages keeps the values readable (read again from the file).
        read.releaseResidentPages()
        XCTAssertEqual(read.graph.initializers, model().graph.initializers)
    }

    /// Layouts the split does not handle decode the ordinary way.
    func testUnusualLayoutsFallBack() throws {
        let bytes = try ONNXWriter.serialize(model())
        // A second, empty graph field: protobuf merges it into the first, so cutting by index is unsafe.
        let twoGraphs = bytes + [7 << 3 | 2, 0]
        XCTAssertNil(twoGraphs.withUnsafeBufferPointer { LazyRawData.split($0.baseAddress!, count: $0.count) })
        let read = try ONNXReader.read(path: try file(twoGraphs))
        XCTAssertEqual(read.graph.initializers, model().graph.initializers)
        // Nothing over the threshold: nothing to cut.
        var small = model()
        small.graph.initializers.removeLast()
        small.graph.nodes[0].inputs = ["x", "small"]
        let smallBytes = try ONNXWriter.serialize(small)
        XCTAssertNil(smallBytes.withUnsafeBufferPointer { LazyRawData.split($0.baseAddress!, count: $0.count) })
    }
}
