import XCTest
import ModelIR
import ModelRuntime
@testable import ModelTraining

/// The optimizers and schedules against their formulas, written out by hand.
final class OptimizerTests: XCTestCase {
    /// A one-weight model (y = x · W, W [1, 2]) whose gradients we feed by hand.
    func trainer(_ w: [Float]) throws -> Trainer {
        let graph = Graph(nodes: [Node(name: "mm", opType: "MatMul", inputs: ["x", "W"], outputs: ["y"])],
                          inputs: [ValueInfo(name: "x", tensor: TensorType(.float, Shape(fixed: [1, 1])))],
                          outputs: [ValueInfo(name: "y", tensor: TensorType(.float, Shape(fixed: [1, 2])))],
                          initializers: [Tensor(name: "W", floats: w, dims: [1, 2])])
        return try Trainer(model: Model(graph: graph))
    }

    func values(_ t: Trainer) -> [Float] { t.value(of: 0).floats }

    func testSGDMomentumNesterovAndWeightDecay() throws {
        let t = try trainer([1, -2])
        let o = Optimizer(OptimizerSettings(kind: .sgd, momentum: 0.9, nesterov: true, weightDecay: 0.1))
        let g = try RuntimeTensor(shape: [1, 2], floats: [0.5, 0.25])
        try o.step(t, [g], learningRate: 0.1)
        // d = g + wd·w; buf = d (first step); nesterov: d + m·buf.
        var w: [Float] = [1, -2], buf: [Float] = [0, 0]
        for k in 0..<2 {
            let d = [Float(0.5), 0.25][k] + 0.1 * w[k]
            buf[k] = d
            w[k] -= 0.1 * (d + 0.9 * buf[k])
        }
        XCTAssertEqual(values(t)[0], w[0], accuracy: 1e-6)
        XCTAssertEqual(values(t)[1], w[1], accuracy: 1e-6)
        try o.step(t, [g], learningRate: 0.1)
        for k in 0..<2 {
            let d = [Float(0.5), 0.25][k] + 0.1 * w[k]
            buf[k] = 0.9 * buf[k] + d
            w[k] -= 0.1 * (d + 0.9 * buf[k])
        }
        XCTAssertEqual(values(t)[0], w[0], accuracy: 1e-6)
        XCTAssertEqual(values(t)[1], w[1], accuracy: 1e-6)
    }

    func testAdamAndAdamW() throws {
        for decoupled in [false, true] {
            let t = try trainer([1, -2])
            let o = Optimizer(OptimizerSettings(kind: decoupled ? .adamw : .adam, weightDecay: 0.01))
            let grads: [[Float]] = [[0.5, -0.25], [0.1, 0.3]]
            var w: [Double] = [1, -2], m: [Double] = [0, 0], v: [Double] = [0, 0]
            for (step, g) in grads.enumerated() {
                try o.step(t, [try RuntimeTensor(shape: [1, 2], floats: g)], learningRate: 0.01)
                for k in 0..<2 {
                    var d = Double(g[k])
                    if decoupled { w[k] *= 1 - 0.01 * 0.01 } else { d += 0.01 * w[k] }
                    m[k] = 0.9 * m[k] + 0.1 * d
                    v[k] = 0.999 * v[k] + 0.001 * d * d
                    let mh = m[k] / (1 - pow(0.9, Double(step + 1))), vh = v[k] / (1 - pow(0.999, Double(step + 1)))
                    w[k] -= 0.01 * mh / (vh.squareRoot() + 1e-8)
                }
                XCTAssertEqual(Double(values(t)[0]), w[0], accuracy: 1e-6)
                XCTAssertEqual(Double(values(t)[1]), w[1], accuracy: 1e-6)
            }
        }
    }

    func testGradientClippingScalesToTheGlobalNorm() throws {
        let t = try trainer([0, 0])
        let o = Optimizer(OptimizerSettings(kind: .sgd, clipNorm: 1))
        let norm = try o.step(t, [try RuntimeTensor(shape: [1, 2], floats: [3, 4])], learningRate: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-9)
        XCTAssertEqual(values(t)[0], -0.6, accuracy: 1e-5)
        XCTAssertEqual(values(t)[1], -0.8, accuracy: 1e-5)
    }

    func testSchedules() {
        let cosine = LearningRateSchedule(kind: .cosine, baseRate: 1, warmupSteps: 10)
        XCTAssertEqual(cosine.rate(step: 0, totalSteps: 110, epoch: 0), 0.1, accuracy: 1e-6)
        XCTAssertEqual(cosine.rate(step: 9, totalSteps: 110, epoch: 0), 1, accuracy: 1e-6)
        XCTAssertEqual(cosine.rate(step: 10, totalSteps: 110, epoch: 0), 1, accuracy: 1e-6)
        XCTAssertEqual(cosine.rate(step: 60, totalSteps: 110, epoch: 0), 0.5, accuracy: 1e-6)
        XCTAssertEqual(cosine.rate(step: 110, totalSteps: 110, epoch: 0), 0, accuracy: 1e-6)
        let step = LearningRateSchedule(kind: .step, baseRate: 1, stepEpochs: 2, gamma: 0.5)
        XCTAssertEqual([0, 1, 2, 3, 4].map { step.rate(step: 100, totalSteps: 1000, epoch: $0) }, [1, 1, 0.5, 0.5, 0.25])
        XCTAssertEqual(LearningRateSchedule(baseRate: 0.3).rate(step: 5, totalSteps: 9, epoch: 3), 0.3)
    }

    func testLossWithLabelSmoothingMatchesItsFormula() throws {
        let logits = try RuntimeTensor(shape: [2, 3], floats: [1, 2, 0.5, -1, 0, 3])
        let (loss, correct, grad) = try CrossEntropyLoss(labelSmoothing: 0.1).evaluate(logits, labels: [1, 0])
        var expected = 0.0
        let rows: [[Double]] = [[1, 2, 0.5], [-1, 0, 3]]
        for (r, label) in zip(rows, [1, 0]) {
            let lse = log(r.map { exp($0) }.reduce(0, +))
            for (j, z) in r.enumerated() { expected -= ((j == label ? 0.9 : 0) + 0.1 / 3) * (z - lse) }
        }
        XCTAssertEqual(loss, expected / 2, accuracy: 1e-9)
        XCTAssertEqual(correct, 1)
        let p0 = exp(2.0) / (exp(1.0) + exp(2.0) + exp(0.5))
        XCTAssertEqual(Double(grad.floats[1]), (p0 - 0.9 - 0.1 / 3) / 2, accuracy: 1e-6)
    }
}
