import XCTest
import ModelIR
import ModelRuntime
@testable import ModelTraining

/// Checks a node's gradient rule against central finite differences of its forward pass.
///
/// The loss is L = Σ r · y over the node's outputs, with r fixed random weights, accumulated in
/// Double; every element of every wanted input is perturbed by ±h. The forward is the inference
/// kernel (or the node's training forward), in float32, so h is large enough for float32 sums and
/// the comparison is relative to the gradient's scale.
struct GradientCheck {
    var random = SplitMix64(seed: 7)
    var h: Float = 1e-2
    var tolerance = 2e-2

    mutating func tensor(_ shape: [Int], scale: Float = 1, offset: Float = 0) throws -> RuntimeTensor {
        let t = try RuntimeTensor.uninitialized(shape)
        for i in 0..<t.count { t.floatPointer[i] = (random.nextUnit() * 2 - 1) * scale + offset }
        return t
    }

    /// Runs the forward of `node` on `inputs`.
    func forward(_ node: Node, _ opset: Int, _ inputs: [RuntimeTensor?], seed: UInt64 = 3) throws -> ([RuntimeTensor], AnyObject?) {
        if let f = GradientRegistry.trainingForward(node.kind!, node: node, opset: opset) {
            var state = TrainingState(random: SplitMix64(seed: seed), threads: 1)
            return try f(inputs, &state)
        }
        return (try NodeKernel(node: node, opset: opset)(inputs, arena: Arena(), threads: 1), nil)
    }

    /// Compares the analytic gradient of every input in `wanted` with finite differences.
    mutating func check(_ node: Node, opset: Int = 17, _ inputs: [RuntimeTensor?], wanted: [Int],
                        file: StaticString = #filePath, line: UInt = #line) throws {
        let (outputs, saved) = try forward(node, opset, inputs)
        let weights = try outputs.map { try tensor($0.shape) }
        let rule = GradientRegistry.rule(node.kind!, node: node, opset: opset)
        guard case .differentiable(let fn) = rule else { return XCTFail("\(node.opType) has no gradient", file: file, line: line) }
        let kernel = GradientRegistry.trainingForward(node.kind!, node: node, opset: opset) == nil
            ? try NodeKernel(node: node, opset: opset) : nil
        let wantedFlags = inputs.indices.map { wanted.contains($0) }
        for threads in [1, 2] {
            let grads = try fn(GradientInputs(node: node, opset: opset, inputs: inputs, outputs: outputs, saved: saved,
                                              outputGrads: weights, wanted: wantedFlags, threads: threads,
                                              kernel: kernel, cache: GradientCache()))
            for i in wanted {
                let x = inputs[i]!
                guard let g = grads[i] else { return XCTFail("\(node.opType): no gradient for input \(i)", file: file, line: line) }
                XCTAssertEqual(g.shape, x.shape, "\(node.opType) input \(i)", file: file, line: line)
                var worst = 0.0, scale = 1e-3
                for e in 0..<x.count { scale = max(scale, Double(abs(g.floatPointer[e]))) }
                for e in 0..<x.count {
                    let numeric = try difference(node, opset, inputs, input: i, element: e, weights: weights)
                    worst = max(worst, abs(numeric - Double(g.floatPointer[e])))
                }
                XCTAssertLessThanOrEqual(worst / scale, tolerance,
                                         "\(node.opType) input \(i), \(threads) thread(s): max error \(worst) at scale \(scale)",
                                         file: file, line: line)
            }
        }
    }

    func loss(_ outputs: [RuntimeTensor], _ weights: [RuntimeTensor]) -> Double {
        var s = 0.0
        for (o, w) in zip(outputs, weights) where o.elementType == .float32 {
            for k in 0..<o.count { s += Double(o.floatPointer[k]) * Double(w.floatPointer[k]) }
        }
        return s
    }

    func difference(_ node: Node, _ opset: Int, _ inputs: [RuntimeTensor?], input i: Int, element e: Int,
                    weights: [RuntimeTensor]) throws -> Double {
        var values: [Double] = []
        for sign in [Float(1), -1] {
            var changed = inputs
            let x = inputs[i]!
            let copy = try RuntimeTensor.uninitialized(x.shape)
            copy.floatPointer.update(from: x.floatPointer, count: x.count)
            copy.floatPointer[e] += sign * h
            changed[i] = copy
            values.append(loss(try forward(node, opset, changed).0, weights))
        }
        return (values[0] - values[1]) / (2 * Double(h))
    }
}

func node(_ op: String, _ inputs: Int, outputs: Int = 1, _ attributes: [Attribute] = []) -> Node {
    Node(name: op.lowercased(), opType: op, inputs: (0..<inputs).map { "in\($0)" }, outputs: (0..<outputs).map { "out\($0)" },
         attributes: attributes)
}

func ints(_ name: String, _ v: [Int]) -> Attribute { Attribute(name, .ints(v.map { Int64($0) })) }
func int(_ name: String, _ v: Int) -> Attribute { Attribute(name, .int(Int64(v))) }
func float(_ name: String, _ v: Float) -> Attribute { Attribute(name, .float(v)) }
func string(_ name: String, _ v: String) -> Attribute { Attribute(name, .string(Array(v.utf8))) }
