import Datasets
import Foundation
import ModelFormats
import ModelIR
import XCTest

/// `apoz`, `info --apoz` and `trim` on networks without ReLU (the off region), and `trim`'s
/// notes grouped by reason.
final class OffRegionCommandTests: XCTestCase {
    /// A 1×1 conv from 3 to 4 channels (channel 1 planted dead: zero filter, bias −1), an
    /// activation `act` from "c" to "a", then three 1×1 convs reading "a", each a graph output.
    func writeModel(_ path: String, activation: [Node]) throws {
        var w1 = [Float]()
        for k in 0..<12 { w1.append(k / 3 == 1 ? 0 : Float(k % 5) / 5 - 0.3) }
        var inits = [Tensor(name: "w1", floats: w1, dims: [4, 3, 1, 1]),
                     Tensor(name: "b1", floats: [0.1, -1, 0.2, -0.1], dims: [4])]
        var nodes = [Node(name: "conv1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c"])] + activation
        for k in 2...4 {
            var w = [Float]()
            for j in 0..<8 { w.append(Float((j + k) % 7) / 7 - 0.4) }
            inits.append(Tensor(name: "w\(k)", floats: w, dims: [2, 4, 1, 1]))
            nodes.append(Node(name: "conv\(k)", opType: "Conv", inputs: ["a", "w\(k)"], outputs: ["y\(k)"]))
        }
        let graph = Graph(name: "t", nodes: nodes,
                          inputs: [ValueInfo(name: "x", tensor: TensorType(.float, Shape(fixed: [1, 3, 4, 4])))],
                          outputs: (2...4).map { ValueInfo(name: "y\($0)") }, initializers: inits)
        _ = try ONNXWriter.write(Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph), to: path)
    }

    func writeData(_ path: String) throws {
        var values = [Float]()
        for k in 0..<(8 * 3 * 16) { values.append(Float((k * 37) % 101) / 50 - 1) }
        try NpyWriter.write(to: path, shape: [8, 3, 4, 4]) { append in values.withUnsafeBufferPointer { append($0) } }
    }

    func testSiLUNetworkIsObservedByItsOffRegionAndNamedSoInInfo() throws {
        let dir = try temporaryDirectory(self)
        let model = dir.appendingPathComponent("silu.onnx").path, data = dir.appendingPathComponent("x.npy").path
        let stats = dir.appendingPathComponent("stats.json").path
        try writeModel(model, activation: [Node(name: "sig", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]),
                                           Node(name: "silu", opType: "Mul", inputs: ["c", "s"], outputs: ["a"])])
        try writeData(data)
        let collect = try modeltool(["apoz", model, "--data", data, "-o", stats])
        XCTAssertEqual(collect.status, 0, collect.stderr)
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stats))) as? [String: Any]
        let tensor = try XCTUnwrap((file?["tensors"] as? [[String: Any]])?.first)
        XCTAssertEqual(tensor["tensor"] as? String, "a")
        XCTAssertEqual(tensor["region"] as? String, "nonPositive")
        XCTAssertEqual(tensor["input"] as? String, "c")
        XCTAssertEqual((tensor["zeros"] as? [NSNumber])?[1], 128, "the dead channel is off at all 8 × 16 positions")
        let info = try modeltool(["info", model, "--apoz", stats, "--channels"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("input <= 0"), info.stdout)
        XCTAssertTrue(info.stdout.contains("(off region: input 'c' <= 0)"), info.stdout)
    }

    func testNotesAreGroupedByReasonUnlessVerbose() throws {
        let dir = try temporaryDirectory(self)
        let model = dir.appendingPathComponent("m.onnx").path, data = dir.appendingPathComponent("x.npy").path
        // Relu then Softsign: compensation has no mean for the Softsign's output, which three
        // convolutions read: three notes with one reason.
        try writeModel(model, activation: [Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"]),
                                           Node(name: "soft", opType: "Softsign", inputs: ["r"], outputs: ["a"])])
        try writeData(data)
        let args = ["trim", model, "--data", data, "--layers", "all", "--threshold", "0.99", "-o", dir.appendingPathComponent("t.onnx").path]
        let grouped = try modeltool(args)
        XCTAssertEqual(grouped.status, 0, grouped.stderr)
        let notes = grouped.stdout.split(separator: "\n").filter { $0.hasPrefix("  note") }.map(String.init)
        XCTAssertEqual(notes, ["  note        3× no mean values, removed channels not compensated: conv2 (input 'a'), conv3 (input 'a'), conv4 (input 'a')"],
                       grouped.stdout)
        let verbose = try modeltool(args + ["--verbose"])
        XCTAssertEqual(verbose.status, 0, verbose.stderr)
        let lines = verbose.stdout.split(separator: "\n").filter { $0.hasPrefix("  note") }.map(String.init)
        var expected: [String] = []
        for k in 2...4 { expected.append("  note        conv\(k) (input 'a'): no mean values, removed channels not compensated") }
        XCTAssertEqual(lines, expected, verbose.stdout)
    }
}
