import XCTest
import ModelIR
@testable import ModelRuntime

/// A float32 tensor for tests.
func T(_ shape: [Int], _ values: [Float]) -> RuntimeTensor { try! RuntimeTensor(shape: shape, floats: values) }
/// A float32 tensor holding 1, 2, 3, …
func iota(_ shape: [Int]) -> RuntimeTensor { T(shape, (0..<shape.reduce(1, *)).map { Float($0 + 1) }) }
/// A 1-D int64 tensor.
func I(_ values: [Int64]) -> RuntimeTensor { try! RuntimeTensor(shape: [values.count], int64s: values) }

/// Runs one node whose inputs are all fed at run time (nil = omitted optional input).
func runOp(_ op: String, opset: Int = 17, _ inputs: [RuntimeTensor?], _ attributes: [Attribute] = [],
           outputs: Int = 1) throws -> [RuntimeTensor] {
    let names = inputs.enumerated().map { $0.element == nil ? "" : "i\($0.offset)" }
    let outs = (0..<outputs).map { "o\($0)" }
    let node = Node(name: "n", opType: op, inputs: names, outputs: outs, attributes: attributes)
    let graph = Graph(nodes: [node], inputs: names.filter { !$0.isEmpty }.map { ValueInfo(name: $0) },
                      outputs: outs.map { ValueInfo(name: $0) })
    let interpreter = try Interpreter(graph: graph, opset: opset, threads: 2)
    var feed: [String: RuntimeTensor] = [:]
    for (k, t) in inputs.enumerated() { if let t { feed["i\(k)"] = t } }
    let result = try interpreter.run(inputs: feed)
    return outs.map { result[$0]! }
}

/// Runs one node and returns its only output.
func run1(_ op: String, opset: Int = 17, _ inputs: [RuntimeTensor?], _ attributes: [Attribute] = []) throws -> RuntimeTensor {
    try runOp(op, opset: opset, inputs, attributes)[0]
}

func assertTensor(_ t: RuntimeTensor, _ shape: [Int], _ values: [Float], accuracy: Float = 1e-5,
                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(t.shape, shape, "shape", file: file, line: line)
    let got = t.floats
    XCTAssertEqual(got.count, values.count, "count", file: file, line: line)
    for (k, (a, b)) in zip(got, values).enumerated() where !(abs(a - b) <= accuracy * max(1, abs(b))) {
        XCTFail("element \(k): got \(a), expected \(b) (all: \(got))", file: file, line: line)
        return
    }
}

func ints(_ name: String, _ v: [Int64]) -> Attribute { Attribute(name, .ints(v)) }
func int(_ name: String, _ v: Int64) -> Attribute { Attribute(name, .int(v)) }
func float(_ name: String, _ v: Float) -> Attribute { Attribute(name, .float(v)) }
func string(_ name: String, _ v: String) -> Attribute { Attribute(name, .string(Array(v.utf8))) }

/// Runs `body` once with each table of register tiles (AVX-512's and AVX2's), whichever the
/// build targets, so that every tile width is checked on any machine; restores the target's.
func withEachTileTable(_ body: (String) throws -> Void) rethrows {
    let target = Tiles.current
    defer { Tiles.current = target }
    for (name, tiles) in [("AVX-512 tiles", Tiles.wide), ("AVX2 tiles", Tiles.narrow)] {
        Tiles.current = tiles
        try body(name)
    }
}
