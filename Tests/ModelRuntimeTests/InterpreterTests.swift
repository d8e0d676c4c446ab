import XCTest
import ModelIR
@testable import ModelRuntime

final class InterpreterTests: XCTestCase {
    func testNoKernelKeyIsRegisteredTwice() {
        let overlaps = KernelRegistry.overlappingEntries.map { "\($0.0.opType) \($0.0.versions) / \($0.1.versions)" }
        XCTAssertEqual(overlaps, [])
        XCTAssertGreaterThan(KernelRegistry.supportedOps.count, 80)
    }

    func testEveryUnsupportedNodeIsListedAtOnce() {
        let graph = Graph(nodes: [
            Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["r"]),
            Node(name: "b", opType: "FancyOp", inputs: ["r"], outputs: ["f"]),
            Node(name: "c", opType: "Gelu", inputs: ["f"], outputs: ["g"]),
            Node(name: "d", opType: "Custom", domain: "com.example", inputs: ["g"], outputs: ["y"]),
        ], inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y")])
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph)
        XCTAssertEqual(Interpreter.unsupportedNodes(in: model).map(\.name), ["b", "c", "d"])
        XCTAssertThrowsError(try Interpreter(model: model)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("3 node(s)"), message)
            XCTAssertTrue(message.contains("b (FancyOp, opset 13)"), message)
            XCTAssertTrue(message.contains("c (Gelu, opset 13)"), message)
            XCTAssertTrue(message.contains("d (com.example.Custom, domain 'com.example' not imported)"), message)
        }
    }

    /// conv → relu → conv → relu, with weights as initializers.
    func smallNet() -> Graph {
        let w1 = Tensor(name: "w1", floats: (0..<36).map { Float($0 % 7) / 7 - 0.4 }, dims: [4, 1, 3, 3])
        let w2 = Tensor(name: "w2", floats: (0..<8).map { Float($0) / 4 - 1 }, dims: [2, 4, 1, 1])
        return Graph(nodes: [
            Node(name: "conv1", opType: "Conv", inputs: ["x", "w1"], outputs: ["c1"], attributes: [ints("pads", [1, 1, 1, 1])]),
            Node(name: "relu1", opType: "Relu", inputs: ["c1"], outputs: ["r1"]),
            Node(name: "conv2", opType: "Conv", inputs: ["r1", "w2"], outputs: ["c2"]),
            Node(name: "relu2", opType: "Relu", inputs: ["c2"], outputs: ["y"]),
        ], inputs: [ValueInfo(name: "x", tensor: TensorType(.float, Shape([.symbol("N"), .fixed(1), .fixed(5), .fixed(5)])))],
           outputs: [ValueInfo(name: "y")], initializers: [w1, w2])
    }

    final class Recorder: RuntimeObserver {
        var seen: [String] = []
        var zeros = 0
        func wantsOutput(of node: Node, named output: String) -> Bool { node.opType == "Relu" }
        func observe(node: Node, output: String, tensor: RuntimeTensor) throws {
            seen.append("\(node.name):\(output):\(tensor.shape)")
            zeros += tensor.withFloats { $0.filter { $0 == 0 }.count }
        }
    }

    func testObserverSeesWantedOutputs() throws {
        let interpreter = try Interpreter(graph: smallNet(), opset: 13, threads: 1)
        let recorder = Recorder()
        let out = try interpreter.run(inputs: ["x": iota([2, 1, 5, 5])], observer: recorder)
        XCTAssertEqual(recorder.seen, ["relu1:r1:[2, 4, 5, 5]", "relu2:y:[2, 2, 5, 5]"])
        XCTAssertEqual(out["y"]!.shape, [2, 2, 5, 5])
        XCTAssertGreaterThan(recorder.zeros, 0)
    }

    func testArenaDoesNotGrowOverBatches() throws {
        let interpreter = try Interpreter(graph: smallNet(), opset: 13, threads: 2)
        let x = iota([3, 1, 5, 5])
        let first = try interpreter.run(inputs: ["x": x])["y"]!.floats
        _ = try interpreter.run(inputs: ["x": x])
        let bytes = interpreter.arena.allocatedBytes, buffers = interpreter.arena.allocatedBuffers
        for _ in 0..<50 { _ = try interpreter.run(inputs: ["x": x]) }
        XCTAssertEqual(interpreter.arena.allocatedBytes, bytes)
        XCTAssertEqual(interpreter.arena.allocatedBuffers, buffers)
        XCTAssertEqual(try interpreter.run(inputs: ["x": x])["y"]!.floats, first)
        XCTAssertLessThanOrEqual(buffers, 5)  // c1/r1 share, c2/y, im2col scratch
    }

    /// Large buffers that are kept (the interpreter's arena, weights' copies) are mapped with their
    /// pages populated; small or short-lived ones come from malloc. Either way `zeroed` means zero.
    func testKeptLargeBuffersArePopulatedMappings() throws {
        let big = 1 << 20
        let cases: [(Int, TensorBuffer.Pages, Bool)] = [(big, .populated, true), (big, .populatedInPieces, true),
                                                       (1000, .populated, false), (big, .allocated, false)]
        for (bytes, pages, mapped) in cases {
            let b = TensorBuffer(byteCount: bytes, zeroed: true, pages: pages)
            XCTAssertEqual(b.isMapped, mapped, "\(bytes) bytes, \(pages)")
            b.populate(1000..<5000)
            let values = UnsafeBufferPointer(start: b.raw.assumingMemoryBound(to: UInt8.self), count: bytes)
            XCTAssertFalse(values.contains { $0 != 0 }, "\(bytes) bytes not zeroed")
            b.raw.storeBytes(of: 7, toByteOffset: bytes - 1, as: UInt8.self)
            XCTAssertEqual(b.raw.load(fromByteOffset: bytes - 1, as: UInt8.self), 7)
        }
        // A Relu on 300 × 300 floats (360 KB): the output comes from the run's arena, mapped.
        let graph = Graph(nodes: [Node(opType: "Relu", inputs: ["x"], outputs: ["y"])],
                          inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y")])
        let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
        let x = try RuntimeTensor(shape: [300, 300], floats: (0..<90_000).map { Float($0 % 7) - 3 })
        let y = try interpreter.run(inputs: ["x": x])["y"]!
        XCTAssertTrue(y.buffer.isMapped)
        XCTAssertFalse(x.buffer.isMapped)  // made by the caller, not kept
        XCTAssertEqual(y.floats, x.floats.map { max($0, 0) })
    }

    /// Rows of a tensor and a borrowed batch are views: they read the memory in place, keep its
    /// owner alive, and an arena never takes them for reuse (the memory is not its own).
    func testViewsShareStorageAndAreNeverReused() throws {
        var rows: RuntimeTensor
        do {
            let whole = try RuntimeTensor(shape: [4, 3], floats: (0..<12).map(Float.init))
            rows = whole.rows(1..<3)
            XCTAssertTrue(rows.buffer.isView)
            XCTAssertEqual(rows.buffer.raw, whole.buffer.raw + 12)
            let inner = rows.rows(1..<2)  // a view of a view reads the same owner
            XCTAssertEqual(inner.floats, [6, 7, 8])
        }
        // `whole` is gone; its memory lives on through the view.
        XCTAssertEqual(rows.shape, [2, 3])
        XCTAssertEqual(rows.floats, [3, 4, 5, 6, 7, 8])
        let arena = Arena()
        arena.give(rows.buffer)
        XCTAssertFalse(arena.take(byteCount: 24) === rows.buffer)
        XCTAssertEqual(arena.allocatedBuffers, 1)

        // A borrowed input goes through a run (its last reader gives buffers back) unchanged, and
        // the arena ends with only buffers of its own.
        let batch = (0..<16).map { Float($0) - 8 }
        let graph = Graph(nodes: [Node(opType: "Relu", inputs: ["x"], outputs: ["r"]), Node(opType: "Neg", inputs: ["r"], outputs: ["y"])],
                          inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y")])
        let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
        try batch.withUnsafeBufferPointer { values in
            let x = try RuntimeTensor(shape: [4, 4], borrowing: values)
            XCTAssertTrue(x.buffer.isView)
            for _ in 0..<3 {
                let y = try interpreter.run(inputs: ["x": x])["y"]!
                XCTAssertFalse(y.sharesStorage(with: x))
                XCTAssertEqual(y.floats, values.map { -max($0, 0) })
            }
        }
        XCTAssertEqual(batch, (0..<16).map { Float($0) - 8 })
        XCTAssertLessThanOrEqual(interpreter.arena.allocatedBuffers, 2)
    }

    func testIntermediatesAreReusedWithinARun() throws {
        // A chain of 6 Relus needs two buffers in flight plus the output, reclaimed between runs.
        var nodes: [Node] = []
        for k in 0..<6 { nodes.append(Node(opType: "Relu", inputs: [k == 0 ? "x" : "v\(k)"], outputs: [k == 5 ? "y" : "v\(k + 1)"])) }
        let graph = Graph(nodes: nodes, inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y")])
        let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
        for _ in 0..<5 { _ = try interpreter.run(inputs: ["x": iota([4, 4])]) }
        XCTAssertLessThanOrEqual(interpreter.arena.allocatedBuffers, 3)
    }

    /// The Shape → Gather → Unsqueeze → Concat → Reshape chain PyTorch emits for x.view(N, -1).
    func testDynamicBatchReshapeChain() throws {
        let graph = Graph(nodes: [
            Node(opType: "Shape", inputs: ["x"], outputs: ["s"]),
            Node(opType: "Constant", inputs: [], outputs: ["zero"], attributes: [Attribute("value", .tensor(Tensor(int64s: [0], dims: [])))]),
            Node(opType: "Gather", inputs: ["s", "zero"], outputs: ["n"], attributes: [int("axis", 0)]),
            Node(opType: "Unsqueeze", inputs: ["n"], outputs: ["n1"], attributes: [ints("axes", [0])]),
            Node(opType: "Constant", inputs: [], outputs: ["minus1"], attributes: [Attribute("value_ints", .ints([-1]))]),
            Node(opType: "Concat", inputs: ["n1", "minus1"], outputs: ["shape"], attributes: [int("axis", 0)]),
            Node(opType: "Reshape", inputs: ["x", "shape"], outputs: ["y"]),
        ], inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y")])
        let interpreter = try Interpreter(graph: graph, opset: 11, threads: 1)
        XCTAssertEqual(try interpreter.run(inputs: ["x": iota([2, 3, 2])])["y"]!.shape, [2, 6])
        XCTAssertEqual(try interpreter.run(inputs: ["x": iota([5, 3, 2])])["y"]!.shape, [5, 6])
    }

    func testConstantSubgraphsAreFolded() throws {
        let graph = Graph(nodes: [
            Node(opType: "Add", inputs: ["a", "b"], outputs: ["c"]),
            Node(opType: "Mul", inputs: ["x", "c"], outputs: ["y"]),
        ], inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y")],
           initializers: [Tensor(name: "a", floats: [1], dims: [1]), Tensor(name: "b", floats: [2], dims: [1])])
        let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
        XCTAssertEqual(interpreter.plannedNodeCount, 1)
        assertTensor(try interpreter.run(inputs: ["x": T([2], [1, 2])])["y"]!, [2], [3, 6])
    }

    func testInputChecks() throws {
        let interpreter = try Interpreter(graph: smallNet(), opset: 13, threads: 1)
        XCTAssertThrowsError(try interpreter.run(inputs: [:])) { XCTAssertEqual("\($0)", "missing graph input 'x'") }
        XCTAssertThrowsError(try interpreter.run(inputs: ["x": iota([1, 1, 5, 5]), "z": iota([1])])) {
            XCTAssertEqual("\($0)", "'z' is not an input of the graph (inputs: x)")
        }
        XCTAssertThrowsError(try interpreter.run(inputs: ["x": iota([1, 1, 4, 5])])) {
            XCTAssertTrue("\($0)".contains("expected [N,1,5,5]"), "\($0)")
        }
    }

    func testIntegerGraphInputsAreConverted() throws {
        let graph = Graph(nodes: [Node(opType: "Relu", inputs: ["x"], outputs: ["y"])],
                          inputs: [ValueInfo(name: "x", tensor: TensorType(.uint8, Shape(fixed: [2])))], outputs: [ValueInfo(name: "y")])
        let interpreter = try Interpreter(graph: graph, opset: 13, threads: 1)
        assertTensor(try interpreter.run(inputs: ["x": I([3, 0])])["y"]!, [2], [3, 0])
    }
}
