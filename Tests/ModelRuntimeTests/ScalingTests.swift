import XCTest
import ModelIR
@testable import ModelRuntime

/// Planning deep, wide and many-output graphs, and the budget of constant folding: a shape
/// computation that expands (ConstantOfShape, Tile, Expand of constants; the runtime has no Range) is refused with
/// one line before it allocates, however small the file (issue 16, bounded resources).
final class ScalingTests: XCTestCase {
    private func model(_ nodes: [Node], inputs: [ValueInfo], outputs: [String], initializers: [Tensor] = []) -> Model {
        Model(opsetImports: [OpsetImport(domain: "", version: 17)],
              graph: Graph(nodes: nodes, inputs: inputs, outputs: outputs.map { ValueInfo(name: $0) }, initializers: initializers))
    }

    private let x = ValueInfo(name: "x", tensor: TensorType(.float, Shape([.fixed(1), .fixed(2)])))

    func testADeepChainPlansAndRuns() throws {
        let depth = 10_001
        let nodes = (0..<depth).map { i in
            Node(name: "n\(i)", opType: "Neg", inputs: [i == 0 ? "x" : "v\(i - 1)"], outputs: ["v\(i)"])
        }
        let interpreter = try Interpreter(model: model(nodes, inputs: [x], outputs: ["v\(depth - 1)"]), threads: 1)
        let y = try interpreter.run(inputs: ["x": T([1, 2], [-3, 4])])["v\(depth - 1)"]!
        // An odd number of negations.
        assertTensor(y, [1, 2], [3, -4])
    }

    /// 10,000 branches into one Sum, and 10,000 graph outputs (each checked against the steps).
    func testAWideGraphAndManyOutputsPlan() throws {
        let width = 10_000
        var nodes = (0..<width).map { Node(name: "r\($0)", opType: "Relu", inputs: ["x"], outputs: ["b\($0)"]) }
        nodes.append(Node(name: "sum", opType: "Sum", inputs: (0..<width).map { "b\($0)" }, outputs: ["s"]))
        let wide = try Interpreter(model: model(nodes, inputs: [x], outputs: ["s"]), threads: 1)
        assertTensor(try wide.run(inputs: ["x": T([1, 2], [-1, 2])])["s"]!, [1, 2], [0, 20_000])
        let many = try Interpreter(model: model(Array(nodes.prefix(width)), inputs: [x], outputs: (0..<width).map { "b\($0)" }), threads: 1)
        XCTAssertEqual(try many.run(inputs: ["x": T([1, 2], [-1, 2])]).count, width)
    }

    /// Each expanding constant computation, from a file of a few hundred bytes, stops at the
    /// folding budget (64 MiB + 8 × the weights) with the shape it asked for.
    func testExpandingConstantsAreRefusedBeforeAllocating() throws {
        let cases: [(String, [Node], [Tensor])] = [
            ("ConstantOfShape", [Node(name: "c", opType: "ConstantOfShape", inputs: ["shape"], outputs: ["k"])],
             [Tensor(name: "shape", int64s: [100_000, 100_000], dims: [2])]),
            ("Tile", [Node(name: "c", opType: "Tile", inputs: ["w", "repeats"], outputs: ["k"])],
             [Tensor(name: "w", floats: [1, 2], dims: [1, 2]), Tensor(name: "repeats", int64s: [1 << 20, 1 << 10], dims: [2])]),
            ("Expand", [Node(name: "c", opType: "Expand", inputs: ["w", "shape"], outputs: ["k"])],
             [Tensor(name: "w", floats: [1], dims: [1, 1]), Tensor(name: "shape", int64s: [1 << 16, 1 << 16], dims: [2])]),
        ]
        for (op, folded, constants) in cases {
            let nodes = folded + [Node(name: "use", opType: "Add", inputs: ["x", "k"], outputs: ["y"])]
            XCTAssertThrowsError(try Interpreter(model: model(nodes, inputs: [x], outputs: ["y"], initializers: constants)), op) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("node 'c' (\(op)): a constant computation of shape ["), message)
                XCTAssertTrue(message.contains("past the \(Arena.foldingLimit(weightBytes: constants.reduce(0) { $0 + $1.bytes!.count })) bytes allowed for folding constants"), message)
            }
        }
    }

    /// Folding within the budget is untouched: a 1 MiB ConstantOfShape folds and runs.
    func testFoldingWithinTheBudgetStillWorks() throws {
        let nodes = [Node(name: "c", opType: "ConstantOfShape", inputs: ["shape"], outputs: ["k"]),
                     Node(name: "use", opType: "ReduceSum", inputs: ["k"], outputs: ["y"], attributes: [int("keepdims", 0)])]
        let shape = Tensor(name: "shape", int64s: [512, 512], dims: [2])
        let fill = Tensor(name: "", floats: [0.5], dims: [1])
        var folded = nodes
        folded[0].attributes = [Attribute("value", .tensor(fill))]
        let interpreter = try Interpreter(model: model(folded, inputs: [], outputs: ["y"], initializers: [shape]))
        assertTensor(try interpreter.run(inputs: [:])["y"]!, [], [131_072])
    }
}
