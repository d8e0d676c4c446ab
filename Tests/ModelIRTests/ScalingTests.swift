import XCTest
@testable import ModelIR

/// Deep and wide graphs go through verify, topological sorting, cycle search and shape inference
/// (issue 16: no super-linear time, no stack overflow), and shape vectors whose declared length is
/// absurd are refused before a shape of that many dimensions is built. Timing is not asserted
/// here (Tools/scaling.py measures it on the release binary); these check the results at sizes
/// where a quadratic pass or a recursive walk used to be slow or crash.
final class ScalingTests: XCTestCase {
    /// x → Relu → Relu → … (`depth` nodes), output y.
    private func chain(_ depth: Int) -> Graph {
        let nodes = (0..<depth).map { i in
            TG.node("Relu", [i == 0 ? "x" : "v\(i - 1)"], [i == depth - 1 ? "y" : "v\(i)"], name: "n\(i)")
        }
        return Graph(nodes: nodes, inputs: [TG.input("x", [1, 3])], outputs: [ValueInfo(name: "y")])
    }

    func testADeepChainVerifiesSortsAndInfers() throws {
        let g = chain(20_000)
        try g.verify()
        XCTAssertNil(g.findCycle())
        let types = try g.inferShapes(opset: 17)
        XCTAssertEqual(types["y"]?.shape?.description, "[1,3]")
        XCTAssertEqual(types.count, 20_001)
        // Stored backwards, the chain sorts back into its order (repeated passes over the nodes
        // took one pass per node here).
        var reversed = g
        reversed.nodes.reverse()
        XCTAssertThrowsError(try reversed.verify())
        let sorted = try reversed.topologicallySorted()
        XCTAssertEqual(sorted.nodes.map(\.name), g.nodes.map(\.name))
        try sorted.verify()
    }

    /// A cycle at the far end of a long chain is found without recursing once per node.
    func testACycleBehindALongChainIsFoundWithoutRecursion() throws {
        var g = chain(100_000)
        // The first node reads the last one's output: a cycle through all of them.
        g.nodes[0].inputs = ["y"]
        let cycle = try XCTUnwrap(g.findCycle())
        XCTAssertEqual(cycle.count, 100_001)
        XCTAssertEqual(cycle.first, cycle.last)
        XCTAssertThrowsError(try g.topologicallySorted()) { error in
            XCTAssertTrue("\(error)".hasPrefix("the graph has a cycle through nodes "), "\(error)".prefix(80).description)
        }
    }

    /// Nodes already in order keep it; a node is placed after all its producers, however they
    /// are stored.
    func testTopologicalSortKeepsOrderAndPlacesDependents() throws {
        let nodes = [TG.node("Add", ["a", "b"], ["y"], name: "add"), TG.node("Relu", ["x"], ["a"], name: "ra"),
                     TG.node("Neg", ["x"], ["c"], name: "neg"), TG.node("Relu", ["c"], ["b"], name: "rb")]
        let g = Graph(nodes: nodes, inputs: [TG.input("x", [2])], outputs: [ValueInfo(name: "y")])
        XCTAssertEqual(try g.topologicallySorted().nodes.map(\.name), ["ra", "neg", "rb", "add"])
        let inOrder = try g.topologicallySorted()
        XCTAssertEqual(try inOrder.topologicallySorted().nodes.map(\.name), ["ra", "neg", "rb", "add"])
    }

    /// 10,000 parallel branches from one input into a Sum and a Concat.
    func testAWideGraphInfersTheJoinedShapes() throws {
        let width = 10_000
        var nodes = (0..<width).map { TG.node("Relu", ["x"], ["b\($0)"], name: "r\($0)") }
        nodes.append(TG.node("Sum", (0..<width).map { "b\($0)" }, ["s"], name: "sum"))
        nodes.append(TG.node("Concat", (0..<width).map { "b\($0)" }, ["c"], name: "concat", [TG.int("axis", 1)]))
        let g = Graph(nodes: nodes, inputs: [TG.input("x", ["batch", 3])], outputs: [ValueInfo(name: "s"), ValueInfo(name: "c")])
        try g.verify()
        XCTAssertEqual(try g.topologicallySorted().nodes.map(\.name), g.nodes.map(\.name))
        let types = try g.inferShapes(opset: 17)
        XCTAssertEqual(types["s"]?.shape?.description, "[batch,3]")
        XCTAssertEqual(types["c"]?.shape?.description, "[batch,30000]")
    }

    /// A shape vector declared (by value_info or an input) with 10^12 elements: the rank of the
    /// Reshape, Expand or ConstantOfShape output would be 10^12.
    func testAnAbsurdDeclaredShapeLengthIsRefused() throws {
        let huge = 1_000_000_000_000
        let shapeInput = TG.input("s", [huge], type: .int64)
        for (op, inputs) in [("Reshape", ["x", "s"]), ("Expand", ["x", "s"]), ("ConstantOfShape", ["s"])] {
            XCTAssertThrowsError(try TG.infer([TG.node(op, inputs, ["y"], name: "big")], inputs: [TG.input("x", [2]), shapeInput]), op) { error in
                XCTAssertEqual("\(error)", "node 'big' (\(op)): a shape of \(huge) dimensions is declared; at most 1024 are supported")
            }
        }
        // A plausible length still gives a shape of unknown dimensions.
        let three = TG.input("s", [3], type: .int64)
        XCTAssertEqual(try TG.infer([TG.node("ConstantOfShape", ["s"], ["y"])], inputs: [three])["y"], "[?,?,?]")
    }
}
