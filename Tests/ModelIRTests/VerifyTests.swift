import XCTest
@testable import ModelIR

final class VerifyTests: XCTestCase {
    private func relu(_ x: String, _ y: String, name: String = "") -> Node {
        Node(name: name, opType: "Relu", inputs: [x], outputs: [y])
    }

    func testValidChainPasses() throws {
        let g = Graph(nodes: [relu("x", "a"), relu("a", "y")], inputs: [ValueInfo(name: "x")],
                      outputs: [ValueInfo(name: "y")])
        XCTAssertNoThrow(try g.verify())
    }

    func testUndefinedValueIsNamed() {
        let g = Graph(nodes: [relu("nope", "y", name: "r")], inputs: [ValueInfo(name: "x")],
                      outputs: [ValueInfo(name: "y")])
        XCTAssertThrowsError(try g.verify()) { e in
            XCTAssertEqual((e as? ModelError)?.message, "node 'r' (Relu) uses undefined value 'nope'")
        }
    }

    func testDuplicateOutput() {
        let g = Graph(nodes: [relu("x", "y"), relu("x", "y")], inputs: [ValueInfo(name: "x")],
                      outputs: [ValueInfo(name: "y")])
        XCTAssertThrowsError(try g.verify()) { e in
            XCTAssertTrue("\(e)".contains("defined twice"), "\(e)")
        }
    }

    func testCycleIsReported() {
        let g = Graph(nodes: [
            Node(name: "a", opType: "Add", inputs: ["x", "c"], outputs: ["b"]),
            Node(name: "b", opType: "Relu", inputs: ["b"], outputs: ["c"]),
        ], inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "c")])
        XCTAssertThrowsError(try g.verify()) { e in
            XCTAssertTrue("\(e)".contains("cycle"), "\(e)")
        }
        XCTAssertThrowsError(try g.topologicallySorted())
    }

    func testOutOfOrderNodesSortTopologically() throws {
        let g = Graph(nodes: [relu("a", "y", name: "second"), relu("x", "a", name: "first")],
                      inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y")])
        XCTAssertThrowsError(try g.verify()) { e in XCTAssertTrue("\(e)".contains("topological"), "\(e)") }
        let sorted = try g.topologicallySorted()
        XCTAssertEqual(sorted.nodes.map(\.name), ["first", "second"])
        XCTAssertNoThrow(try sorted.verify())
    }

    func testTensorSizeMismatch() {
        let bad = Tensor(name: "w", dataType: .float, dims: [2, 3], storage: .bytes(TensorBytes(zeroed: 20)))
        XCTAssertThrowsError(try bad.validate()) { e in
            XCTAssertEqual("\(e)", "tensor 'w' holds 20 bytes but float32[2, 3] needs 24")
        }
        let negative = Tensor(name: "n", dataType: .float, dims: [-1], storage: .bytes(TensorBytes(zeroed: 0)))
        XCTAssertThrowsError(try negative.validate())
        let absurd = Tensor(name: "a", dataType: .float, dims: [1 << 40, 1 << 40], storage: .bytes(TensorBytes(zeroed: 0)))
        XCTAssertThrowsError(try absurd.validate())
    }

    func testSubgraphSeesOuterScope() throws {
        let body = Graph(nodes: [relu("x", "z")], outputs: [ValueInfo(name: "z")])
        let node = Node(opType: "If", inputs: ["cond"], outputs: ["y"], attributes: [Attribute("then_branch", .graph(body))])
        let g = Graph(nodes: [node], inputs: [ValueInfo(name: "x"), ValueInfo(name: "cond")], outputs: [ValueInfo(name: "y")])
        XCTAssertNoThrow(try g.verify())
    }

    func testHalfConversion() {
        XCTAssertEqual(halfToFloat(0x3c00), 1.0)
        XCTAssertEqual(halfToFloat(0xc000), -2.0)
        XCTAssertEqual(halfToFloat(0x0001), 0x1p-24)
        XCTAssertEqual(halfToFloat(0x7c00), .infinity)
    }
}
