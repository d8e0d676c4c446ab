import ModelIR
import ModelRuntime
@testable import ModelTrimming
import XCTest

/// Deterministic pseudo-random numbers for weights and inputs.
struct LCG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float((state >> 33) % 2_000_001) / 1_000_000 - 1  // -1...1
    }
    mutating func values(_ n: Int, scale: Float = 0.5) -> [Float] { (0..<n).map { _ in next() * scale } }
}

/// Builds tiny models node by node.
struct Builder {
    var nodes: [Node] = []
    var initializers: [Tensor] = []
    var rng = LCG(7)

    /// A random float initializer; `edit` may plant values.
    @discardableResult
    mutating func weight(_ name: String, _ dims: [Int], scale: Float = 0.5, _ edit: (inout [Float]) -> Void = { _ in }) -> String {
        var v = rng.values(dims.reduce(1, *), scale: scale)
        edit(&v)
        initializers.append(Tensor(name: name, floats: v, dims: dims))
        return name
    }

    mutating func ints(_ name: String, _ v: [Int64]) -> String {
        initializers.append(Tensor(name: name, int64s: v, dims: [v.count]))
        return name
    }

    mutating func add(_ op: String, _ inputs: [String], _ out: String, name: String? = nil, _ attrs: [Attribute] = []) {
        nodes.append(Node(name: name ?? out, opType: op, inputs: inputs, outputs: [out], attributes: attrs))
    }

    /// Conv with optional planted dead output channels (zero filter, bias -1).
    mutating func conv(_ name: String, _ x: String, cin: Int, cout: Int, k: Int = 3, pad: Int = 0, group: Int = 1,
                       dead: [Int] = [], bias: Bool = true) -> String {
        let per = (cin / group) * k * k
        weight("\(name).w", [cout, cin / group, k, k]) { w in for c in dead { for i in 0..<per { w[c * per + i] = 0 } } }
        if bias { weight("\(name).b", [cout]) { b in for c in dead { b[c] = -1 } } }
        add("Conv", [x, "\(name).w"] + (bias ? ["\(name).b"] : []), name, [
            Attribute("kernel_shape", .ints([Int64(k), Int64(k)])), Attribute("pads", .ints(Array(repeating: Int64(pad), count: 4))),
            Attribute("group", .int(Int64(group))),
        ])
        return name
    }

    mutating func relu(_ x: String, _ out: String) -> String { add("Relu", [x], out); return out }

    func model(input: [Int], outputs: [String], opset: Int64 = 17) -> Model {
        let g = Graph(name: "t", nodes: nodes, inputs: [ValueInfo(name: "x", tensor: TensorType(.float, Shape(fixed: input)))],
                      outputs: outputs.map { ValueInfo(name: $0) }, initializers: initializers)
        return Model(opsetImports: [OpsetImport(domain: "", version: opset)], graph: g)
    }
}

/// Records per-channel APoZ and mean of chosen tensors (axis 1), independently of the APoZ tool.
final class StatsRecorder: RuntimeObserver {
    var zeros: [String: [Double]] = [:], sums: [String: [Double]] = [:], counts: [String: Double] = [:]
    let names: Set<String>
    init(_ names: [String]) { self.names = Set(names) }
    func wantsOutput(of node: Node, named output: String) -> Bool { names.contains(output) }
    func observe(node: Node, output: String, tensor: RuntimeTensor) throws {
        let s = tensor.shape, c = s[1], inner = s.dropFirst(2).reduce(1, *)
        let v = tensor.floats
        var z = zeros[output] ?? Array(repeating: 0, count: c), m = sums[output] ?? Array(repeating: 0, count: c)
        for n in 0..<s[0] { for ch in 0..<c { for i in 0..<inner {
            let x = v[(n * c + ch) * inner + i]
            if x == 0 { z[ch] += 1 }
            m[ch] += Double(x)
        } } }
        zeros[output] = z; sums[output] = m
        counts[output, default: 0] += Double(s[0] * inner)
    }
    var statistics: [String: ChannelStatistics] {
        Dictionary(uniqueKeysWithValues: zeros.keys.map { k in
            (k, ChannelStatistics(apoz: zeros[k]!.map { $0 / counts[k]! }, mean: sums[k]!.map { $0 / counts[k]! }))
        })
    }
}

func randomInput(_ shape: [Int], seed: UInt64 = 3) throws -> RuntimeTensor {
    var r = LCG(seed)
    return try RuntimeTensor(shape: shape, floats: r.values(shape.reduce(1, *), scale: 1))
}

/// Runs `model` on `x`; with `observe`, also records statistics of those tensors.
func execute(_ model: Model, _ x: RuntimeTensor, observe: [String] = []) throws -> (out: [String: [Float]], stats: [String: ChannelStatistics]) {
    let interpreter = try Interpreter(model: model, threads: 1)
    let recorder = StatsRecorder(observe)
    let out = try interpreter.run(inputs: ["x": x], observer: observe.isEmpty ? nil : recorder)
    return (out.mapValues(\.floats), recorder.statistics)
}

func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "outputs differ in size: \(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

extension Model {
    func initializer(_ name: String) -> Tensor? { graph.initializers.first { $0.name == name } }
}
