import XCTest
import Foundation
import ModelIR
@testable import ModelRuntime

/// Conv → BatchNormalization → Relu/Clip chains run fused unless an observer wants a value in
/// between; both ways give the same numbers.
final class FusionTests: XCTestCase {
    /// conv(+bias) → bn → clip(0, 6) → conv → relu, and a conv whose output is also a graph output.
    func chainNet(opset: Int) -> Graph {
        let c = 3
        let w1 = Tensor(name: "w1", floats: (0..<(c * 2 * 9)).map { Float(($0 * 5) % 11) / 5 - 1 }, dims: [c, 2, 3, 3])
        let b1 = Tensor(name: "b1", floats: [0.5, -0.25, 1], dims: [c])
        let bn = [("s", [1.5, 0.5, -2]), ("t", [0.1, -0.2, 0.3]), ("m", [0.2, 0.0, -0.4]), ("v", [1.0, 4.0, 0.25])].map {
            Tensor(name: $0.0, floats: $0.1.map { Float($0) }, dims: [c])
        }
        let lo = Tensor(name: "lo", floats: [0], dims: []), hi = Tensor(name: "hi", floats: [6], dims: [])
        let w2 = Tensor(name: "w2", floats: (0..<(2 * c)).map { Float($0) / 3 - 0.8 }, dims: [2, c, 1, 1])
        let clip = opset >= 11
            ? Node(name: "clip", opType: "Clip", inputs: ["n1", "lo", "hi"], outputs: ["a1"])
            : Node(name: "clip", opType: "Clip", inputs: ["n1"], outputs: ["a1"], attributes: [float("min", 0), float("max", 6)])
        return Graph(nodes: [
            Node(name: "conv1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"], attributes: [ints("pads", [1, 1, 1, 1])]),
            Node(name: "bn", opType: "BatchNormalization", inputs: ["c1", "s", "t", "m", "v"], outputs: ["n1"]),
            clip,
            Node(name: "conv2", opType: "Conv", inputs: ["a1", "w2"], outputs: ["c2"]),
            Node(name: "relu", opType: "Relu", inputs: ["c2"], outputs: ["y"]),
            Node(name: "conv3", opType: "Conv", inputs: ["a1", "w2"], outputs: ["z"]),
        ], inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y"), ValueInfo(name: "z")],
           initializers: [w1, b1, lo, hi, w2] + bn)
    }

    final class Wants: RuntimeObserver {
        let names: Set<String>
        var seen: [String: [Float]] = [:]
        var asked: [String] = []
        init(_ names: Set<String>) { self.names = names }
        func wantsOutput(of node: Node, named output: String) -> Bool { asked.append(output); return names.contains(output) }
        func observe(node: Node, output: String, tensor: RuntimeTensor) throws { seen[output] = tensor.floats }
    }

    /// The same graph computed node by node in plain Swift.
    func reference(_ x: RuntimeTensor, opset: Int) throws -> (c1: [Float], y: [Float], z: [Float]) {
        let g = chainNet(opset: opset)
        func run(_ nodes: [Node], _ feeds: [String: RuntimeTensor], _ out: String) throws -> RuntimeTensor {
            let inputs = Set(nodes.flatMap(\.inputs)).subtracting(nodes.flatMap(\.outputs))
            let sub = Graph(nodes: nodes, inputs: inputs.map { ValueInfo(name: $0) }, outputs: [ValueInfo(name: out)])
            return try Interpreter(graph: sub, opset: opset, threads: 1).run(inputs: feeds)[out]!
        }
        var values: [String: RuntimeTensor] = ["x": x]
        for t in g.initializers { values[t.name] = try RuntimeTensor(t) }
        for node in g.nodes {
            // One node per graph, every input fed: nothing to fuse.
            let feeds = values.filter { node.inputs.contains($0.key) }
            values[node.outputs[0]] = try run([node], feeds, node.outputs[0])
        }
        return (values["c1"]!.floats, values["y"]!.floats, values["z"]!.floats)
    }

    func testFusedAndUnfusedChainsAgree() throws {
        for opset in [9, 13] {
            let x = T([2, 2, 6, 5], (0..<120).map { Float(($0 * 7) % 17) / 4 - 2 })
            let expected = try reference(x, opset: opset)
            let interpreter = try Interpreter(graph: chainNet(opset: opset), opset: opset, threads: 2)
            // No observer: fused.
            let fused = try interpreter.run(inputs: ["x": x])
            assertTensor(fused["y"]!, [2, 2, 6, 5], expected.y)
            assertTensor(fused["z"]!, [2, 2, 6, 5], expected.z)
            // Only final outputs wanted: still fused, and the observer sees them.
            let late = Wants(["y", "a1"])
            _ = try interpreter.run(inputs: ["x": x], observer: late)
            XCTAssertEqual(Set(late.seen.keys), ["y", "a1"])
            XCTAssertEqual(late.asked.sorted(), ["a1", "c1", "c2", "n1", "y", "z"], "each output asked once")
            // The conv output wanted: that chain runs node by node and c1 is observed.
            let early = Wants(["c1", "y"])
            let unfused = try interpreter.run(inputs: ["x": x], observer: early)
            XCTAssertEqual(early.seen["c1"], expected.c1)
            assertTensor(unfused["y"]!, [2, 2, 6, 5], expected.y)
            assertTensor(unfused["z"]!, [2, 2, 6, 5], expected.z)
        }
    }

    func testChainsStopAtSharedOrNonConstantValues() throws {
        let interpreter = try Interpreter(graph: chainNet(opset: 13), opset: 13, threads: 1)
        let infos = interpreter.fusionChains.map { $0.map(\.name) }
        // conv1 → bn → clip fuses; conv2 → relu fuses; conv3's output is a graph output and
        // a1 has two readers, so neither conv3 nor conv2 can take clip's place.
        XCTAssertEqual(infos, [["conv1", "bn", "clip"], ["conv2", "relu"]])
    }

    /// Conv (c → m channels, 3×3, pad 1) followed by `activation`'s nodes, reading "c" and writing "y".
    func activationNet(c: Int, m: Int, _ activation: [Node]) -> Graph {
        let w = Tensor(name: "w", floats: (0..<(m * c * 9)).map { Float(($0 * 7) % 13) / 13 - 0.45 }, dims: [m, c, 3, 3])
        let b = Tensor(name: "b", floats: (0..<m).map { Float($0 % 5) / 4 - 0.5 }, dims: [m])
        return Graph(nodes: [Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"],
                                  attributes: [ints("pads", [1, 1, 1, 1])])] + activation,
                     inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y")], initializers: [w, b])
    }

    /// SiLU (as x·Sigmoid(x), either operand order), Sigmoid, HardSwish and HardSigmoid run in the
    /// convolution's epilogue, plain (3 channels) and channel-blocked (32, two convolutions in a
    /// row so the first writes blocked), and equal the formulas evaluated in Double on the
    /// convolution's own output.
    func testSmoothActivationsFuseIntoTheConvolution() throws {
        typealias Case = (name: String, nodes: [Node], f: (Double) -> Double)
        let sigmoid = { (v: Double) in 1 / (1 + Foundation.exp(-v)) }
        let cases: [Case] = [
            ("silu", [Node(name: "g", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]),
                      Node(name: "mul", opType: "Mul", inputs: ["c", "s"], outputs: ["y"])], { $0 * sigmoid($0) }),
            ("silu, operands swapped", [Node(name: "g", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]),
                                        Node(name: "mul", opType: "Mul", inputs: ["s", "c"], outputs: ["y"])], { $0 * sigmoid($0) }),
            ("sigmoid", [Node(name: "g", opType: "Sigmoid", inputs: ["c"], outputs: ["y"])], sigmoid),
            ("hardswish", [Node(name: "g", opType: "HardSwish", inputs: ["c"], outputs: ["y"])],
             { $0 * min(1, max(0, $0 / 6 + 0.5)) }),
            ("hardsigmoid", [Node(name: "g", opType: "HardSigmoid", inputs: ["c"], outputs: ["y"],
                                  attributes: [float("alpha", 0.3), float("beta", 0.4)])], { min(1, max(0, 0.3 * $0 + 0.4)) }),
        ]
        for (name, nodes, f) in cases {
            for (c, m) in [(2, 3), (16, 32)] {
                let x = T([2, c, 5, 6], (0..<(2 * c * 30)).map { Float(($0 * 11) % 23) / 3 - 3.5 })
                let graph = activationNet(c: c, m: m, nodes)
                let interpreter = try Interpreter(graph: graph, opset: 17, threads: 2)
                XCTAssertEqual(interpreter.fusionChains.map { $0.map(\.name) }, [["conv"] + nodes.map(\.name)], name)
                let fused = try interpreter.run(inputs: ["x": x])["y"]!
                // The convolution's output, from an interpreter that runs the Conv alone.
                let convOnly = Graph(nodes: [graph.nodes[0]], inputs: graph.inputs, outputs: [ValueInfo(name: "c")],
                                     initializers: graph.initializers)
                let conv = try Interpreter(graph: convOnly, opset: 17, threads: 1).run(inputs: ["x": x])["c"]!.floats
                assertTensor(fused, [2, m, 5, 6], conv.map { Float(f(Double($0))) }, accuracy: 2e-6)
                // Observed in between, the nodes run one by one and give the same values.
                let wants = Wants(["c"])
                let unfused = try interpreter.run(inputs: ["x": x], observer: wants)["y"]!
                XCTAssertEqual(wants.seen["c"], conv, name)
                assertTensor(unfused, [2, m, 5, 6], fused.floats, accuracy: 2e-6)
            }
        }
        // Blocked: a second convolution reads the first's output, so the first writes it blocked.
        let x = T([1, 16, 4, 4], (0..<256).map { Float(($0 * 5) % 19) / 4 - 2 })
        var graph = activationNet(c: 16, m: 32, cases[0].nodes)
        graph.nodes.append(Node(name: "conv2", opType: "Conv", inputs: ["y", "w2"], outputs: ["z"]))
        graph.initializers.append(Tensor(name: "w2", floats: (0..<(16 * 32)).map { Float($0 % 7) / 7 - 0.4 }, dims: [16, 32, 1, 1]))
        graph.outputs = [ValueInfo(name: "z")]
        let fused = try Interpreter(graph: graph, opset: 17, threads: 1).run(inputs: ["x": x])["z"]!
        let unfused = try Interpreter(graph: graph, opset: 17, threads: 1).run(inputs: ["x": x], observer: Wants(["c"]))["z"]!
        assertTensor(fused, [1, 16, 4, 4], unfused.floats, accuracy: 1e-5)
    }

    /// SiLU fuses only when the convolution's output feeds exactly its Sigmoid and its Mul.
    func testSiluDoesNotFuseWhenItsInputHasAnotherReader() throws {
        let nodes = [Node(name: "g", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]),
                     Node(name: "mul", opType: "Mul", inputs: ["c", "s"], outputs: ["m"]),
                     Node(name: "add", opType: "Add", inputs: ["m", "c"], outputs: ["y"])]
        let interpreter = try Interpreter(graph: activationNet(c: 2, m: 3, nodes), opset: 17, threads: 1)
        XCTAssertEqual(interpreter.fusionChains.count, 0)
        // x·x (no Sigmoid) is no SiLU either.
        let square = [Node(name: "mul", opType: "Mul", inputs: ["c", "c"], outputs: ["y"])]
        XCTAssertEqual(try Interpreter(graph: activationNet(c: 2, m: 3, square), opset: 17, threads: 1).fusionChains.count, 0)
    }

    /// BatchNormalization → Relu/Clip without a convolution before it (DenseNet's pre-activation)
    /// runs as one step, on plain data and on a blocked conv output, with the unfused values.
    func testBatchNormalizationWithActivationFusesOnItsOwn() throws {
        let c = 32
        let w = Tensor(name: "w", floats: (0..<(c * 3 * 9)).map { Float(($0 * 5) % 17) / 17 - 0.5 }, dims: [c, 3, 3, 3])
        let values = [1.5, -0.2, 0.1, 2.0].enumerated().map { k, base in (0..<c).map { Float(base) + Float(($0 + k) % 7) / 10 } }
        let bn = zip(["s", "t", "m", "v"], values).map { Tensor(name: $0, floats: $1, dims: [c]) }
        let w2 = Tensor(name: "w2", floats: (0..<(16 * c)).map { Float($0 % 9) / 9 - 0.4 }, dims: [16, c, 1, 1])
        // x → bn1 → relu1 (plain input); conv → [add] → bn2 → clip → conv2: conv's output is
        // blocked, and the Add keeps the BN from fusing into the convolution.
        let graph = Graph(nodes: [
            Node(name: "bn1", opType: "BatchNormalization", inputs: ["x", "s3", "t3", "m3", "v3"], outputs: ["n1"]),
            Node(name: "relu1", opType: "Relu", inputs: ["n1"], outputs: ["y1"]),
            Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"], attributes: [ints("pads", [1, 1, 1, 1])]),
            Node(name: "add", opType: "Add", inputs: ["c", "c"], outputs: ["d"]),
            Node(name: "bn2", opType: "BatchNormalization", inputs: ["d", "s", "t", "m", "v"], outputs: ["n2"]),
            Node(name: "clip", opType: "Clip", inputs: ["n2"], outputs: ["a2"], attributes: [float("min", 0), float("max", 1)]),
            Node(name: "conv2", opType: "Conv", inputs: ["a2", "w2"], outputs: ["y2"]),
        ], inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y1"), ValueInfo(name: "y2")],
           initializers: [w, w2] + bn + zip(["s3", "t3", "m3", "v3"], values).map {
               Tensor(name: $0, floats: Array($1.prefix(3)), dims: [3])
           })
        let interpreter = try Interpreter(graph: graph, opset: 9, threads: 2)
        XCTAssertEqual(interpreter.fusionChains.map { $0.map { $0.name } }, [["bn1", "relu1"], ["bn2", "clip"]])
        let x = T([2, 3, 6, 7], (0..<252).map { Float(($0 * 13) % 29) / 7 - 2 })
        let fused = try interpreter.run(inputs: ["x": x])
        let wants = Wants(["n1", "n2"])
        let unfused = try interpreter.run(inputs: ["x": x], observer: wants)
        XCTAssertEqual(Set(wants.seen.keys), ["n1", "n2"])
        assertTensor(fused["y1"]!, [2, 3, 6, 7], unfused["y1"]!.floats, accuracy: 0)
        assertTensor(fused["y2"]!, [2, 16, 6, 7], unfused["y2"]!.floats, accuracy: 1e-6)
        // And against the formula: relu(x·a + b) per channel.
        let a = (0..<3).map { k in values[0][k] / (values[3][k] + 1e-5).squareRoot() }
        let expected = x.floats.enumerated().map { i, v -> Float in
            let k = (i / 42) % 3
            return max(0, v * a[k] + (values[1][k] - values[2][k] * a[k]))
        }
        assertTensor(fused["y1"]!, [2, 3, 6, 7], expected, accuracy: 1e-6)
    }

    /// Add → Relu fuses: operands of one shape (plain, and two blocked conv outputs) in one pass,
    /// a broadcasting operand through the two kernels; the values are the unfused ones.
    func testAddReluFuses() throws {
        let w = Tensor(name: "w", floats: (0..<(16 * 2 * 9)).map { Float(($0 * 7) % 11) / 11 - 0.5 }, dims: [16, 2, 3, 3])
        let w2 = Tensor(name: "w2", floats: (0..<(16 * 16)).map { Float(($0 * 3) % 13) / 13 - 0.5 }, dims: [16, 16, 1, 1])
        let bias = Tensor(name: "bias", floats: (0..<16).map { Float($0) / 8 - 1 }, dims: [1, 16, 1, 1])
        let graph = Graph(nodes: [
            Node(name: "c1", opType: "Conv", inputs: ["x", "w"], outputs: ["a"], attributes: [ints("pads", [1, 1, 1, 1])]),
            Node(name: "c2", opType: "Conv", inputs: ["a", "w2"], outputs: ["b"]),
            Node(name: "add", opType: "Add", inputs: ["a", "b"], outputs: ["s"]),
            Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["r"]),
            Node(name: "c3", opType: "Conv", inputs: ["r", "w2"], outputs: ["y1"]),
            Node(name: "addb", opType: "Add", inputs: ["y1", "bias"], outputs: ["t"]),
            Node(name: "relub", opType: "Relu", inputs: ["t"], outputs: ["y2"]),
        ], inputs: [ValueInfo(name: "x")], outputs: [ValueInfo(name: "y2")], initializers: [w, w2, bias])
        let interpreter = try Interpreter(graph: graph, opset: 13, threads: 2)
        XCTAssertEqual(interpreter.fusionChains.map { $0.map { $0.name } }, [["add", "relu"], ["addb", "relub"]])
        let x = T([2, 2, 5, 6], (0..<120).map { Float(($0 * 17) % 23) / 5 - 2 })
        let fused = try interpreter.run(inputs: ["x": x])["y2"]!
        let wants = Wants(["s", "t"])
        let unfused = try interpreter.run(inputs: ["x": x], observer: wants)["y2"]!
        assertTensor(fused, [2, 16, 5, 6], unfused.floats, accuracy: 0)
        XCTAssertEqual(wants.seen["t"]!.map { max($0, 0) }, unfused.floats)
        // Without the blocked layout too.
        interpreter.blockedLayout = false
        assertTensor(try interpreter.run(inputs: ["x": x])["y2"]!, [2, 16, 5, 6], unfused.floats, accuracy: 1e-6)
    }
}
