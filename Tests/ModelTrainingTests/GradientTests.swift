import XCTest
import ModelIR
import ModelRuntime
@testable import ModelTraining

/// Every operator's gradient against finite differences, over the attribute variants the forward
/// kernels support.
final class ConvolutionGradientTests: XCTestCase {
    func testConv2DVariants() throws {
        var c = GradientCheck()
        let cases: [(x: [Int], w: [Int], attrs: [Attribute])] = [
            ([2, 3, 6, 5], [4, 3, 3, 3], []),
            ([1, 2, 7, 7], [3, 2, 3, 2], [ints("strides", [2, 1]), ints("pads", [1, 0, 2, 1])]),
            ([1, 2, 8, 8], [2, 2, 3, 3], [ints("dilations", [2, 2]), ints("pads", [2, 2, 2, 2])]),
            ([2, 4, 5, 5], [6, 2, 3, 3], [int("group", 2), ints("pads", [1, 1, 1, 1])]),
            ([1, 4, 6, 6], [4, 1, 3, 3], [int("group", 4), ints("strides", [2, 2]), string("auto_pad", "SAME_UPPER")]),
            ([1, 3, 5, 6], [2, 3, 2, 2], [string("auto_pad", "SAME_LOWER"), ints("strides", [2, 2])]),
            ([1, 2, 5, 5], [3, 2, 2, 2], [string("auto_pad", "VALID"), ints("strides", [2, 2])]),
            ([2, 3, 4, 4], [5, 3, 1, 1], []),
            // Several images per column matrix (and per worker), a strided 1×1 shortcut, and
            // depthwise ones (the direct path) over several images, padded and strided.
            ([5, 4, 6, 6], [6, 4, 3, 3], [ints("pads", [1, 1, 1, 1])]),
            ([3, 4, 7, 7], [6, 4, 1, 1], [ints("strides", [2, 2])]),
            ([3, 5, 6, 7], [5, 1, 3, 3], [int("group", 5), ints("pads", [1, 1, 1, 1])]),
            ([2, 3, 7, 7], [3, 1, 3, 3], [int("group", 3), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1])]),
        ]
        for (xs, ws, attrs) in cases {
            let n = node("Conv", 3, attrs + [ints("kernel_shape", Array(ws[2...]))])
            try c.check(n, [try c.tensor(xs), try c.tensor(ws), try c.tensor([ws[0]])], wanted: [0, 1, 2])
        }
    }

    func testConv1D() throws {
        var c = GradientCheck()
        try c.check(node("Conv", 2, [ints("pads", [1, 2]), ints("strides", [2])]),
                    [try c.tensor([2, 3, 9]), try c.tensor([4, 3, 3])], wanted: [0, 1])
        try c.check(node("Conv", 3, [int("group", 3), ints("dilations", [2])]),
                    [try c.tensor([1, 3, 8]), try c.tensor([3, 1, 3]), try c.tensor([3])], wanted: [0, 1, 2])
    }

    func testConvTranspose() throws {
        var c = GradientCheck()
        try c.check(node("ConvTranspose", 3, [ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1])]),
                    [try c.tensor([2, 3, 3, 4]), try c.tensor([3, 2, 3, 3]), try c.tensor([2])], wanted: [0, 1, 2])
        try c.check(node("ConvTranspose", 2, [ints("strides", [2, 2]), ints("output_padding", [1, 0]), int("group", 2)]),
                    [try c.tensor([1, 4, 3, 3]), try c.tensor([4, 1, 2, 2])], wanted: [0, 1])
        try c.check(node("ConvTranspose", 2, [ints("strides", [2, 2]), string("auto_pad", "SAME_UPPER")]),
                    [try c.tensor([1, 2, 3, 3]), try c.tensor([2, 2, 3, 3])], wanted: [0, 1])
    }
}

final class GemmGradientTests: XCTestCase {
    func testGemmTransposesAndScales() throws {
        var c = GradientCheck()
        for (ta, tb) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let a = ta == 1 ? [4, 3] : [3, 4], b = tb == 1 ? [5, 4] : [4, 5]
            let n = node("Gemm", 3, [int("transA", ta), int("transB", tb), float("alpha", 0.7), float("beta", 1.3)])
            try c.check(n, [try c.tensor(a), try c.tensor(b), try c.tensor([5])], wanted: [0, 1, 2])
        }
        try c.check(node("Gemm", 3, [int("transB", 1)]), [try c.tensor([2, 3]), try c.tensor([4, 3]), try c.tensor([2, 4])],
                    wanted: [0, 1, 2])
    }

    func testMatMulShapes() throws {
        var c = GradientCheck()
        try c.check(node("MatMul", 2), [try c.tensor([3, 4]), try c.tensor([4, 2])], wanted: [0, 1])
        try c.check(node("MatMul", 2), [try c.tensor([2, 3, 4]), try c.tensor([4, 5])], wanted: [0, 1])
        try c.check(node("MatMul", 2), [try c.tensor([2, 1, 3, 4]), try c.tensor([3, 4, 2])], wanted: [0, 1])
        try c.check(node("MatMul", 2), [try c.tensor([4]), try c.tensor([4, 3])], wanted: [0, 1])
    }
}

final class NormalizationGradientTests: XCTestCase {
    func testBatchNormTraining() throws {
        var c = GradientCheck()
        c.h = 5e-3
        let n = node("BatchNormalization", 5, [float("epsilon", 1e-3)])
        try c.check(n, [try c.tensor([3, 2, 3, 2], scale: 2, offset: 0.5), try c.tensor([2], offset: 1), try c.tensor([2]),
                        try c.tensor([2]), try c.tensor([2], scale: 0.2, offset: 1)], wanted: [0, 1, 2])
        try c.check(n, [try c.tensor([5, 3]), try c.tensor([3], offset: 1), try c.tensor([3]),
                        try c.tensor([3]), try c.tensor([3], scale: 0.2, offset: 1)], wanted: [0, 1, 2])
    }

    func testBatchNormRunningStatisticsFollowPyTorch() throws {
        var c = GradientCheck()
        let x = try c.tensor([4, 1, 2, 1])
        let forward = NormalizationGradients.batchNormForward(node("BatchNormalization", 5, [float("momentum", 0.8)]))
        var state = TrainingState(random: SplitMix64(seed: 1), threads: 1)
        _ = try forward([x, try .filled([1], 1), try .filled([1], 0), try .filled([1], 1), try .filled([1], 2)], &state)
        let values = x.floats.map(Double.init)
        let mean = values.reduce(0, +) / 8
        let unbiased = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 7
        XCTAssertEqual(Double(state.updatedInputs[3]!.floats[0]), 0.8 * 1 + 0.2 * mean, accuracy: 1e-6)
        XCTAssertEqual(Double(state.updatedInputs[4]!.floats[0]), 0.8 * 2 + 0.2 * unbiased, accuracy: 1e-6)
        // Keras feeds the biased variance.
        let keras = NormalizationGradients.batchNormForward(node("BatchNormalization", 5, [float("momentum", 0.8)]),
                                                            unbiasedRunningVariance: false)
        _ = try keras([x, try .filled([1], 1), try .filled([1], 0), try .filled([1], 1), try .filled([1], 2)], &state)
        XCTAssertEqual(Double(state.updatedInputs[4]!.floats[0]), 0.8 * 2 + 0.2 * unbiased * 7 / 8, accuracy: 1e-6)
        XCTAssertFalse(TrainingConventions(for: Model(producerName: "modeltool", producerVersion: "keras", graph: Graph())).unbiasedRunningVariance)
        XCTAssertTrue(TrainingConventions(for: Model(producerName: "pytorch", producerVersion: "2.13", graph: Graph())).unbiasedRunningVariance)
    }

    func testDropoutUsesItsMask() throws {
        var c = GradientCheck()
        try c.check(node("Dropout", 2), opset: 13, [try c.tensor([4, 5]), try RuntimeTensor(shape: [], floats: [0.3])], wanted: [0])
        try c.check(node("Dropout", 1, [float("ratio", 0.5)]), opset: 10, [try c.tensor([3, 6])], wanted: [0])
    }
}

final class ActivationGradientTests: XCTestCase {
    func testElementwiseActivations() throws {
        var c = GradientCheck()
        let cases: [(String, [Attribute], Int)] = [
            ("Relu", [], 14), ("LeakyRelu", [float("alpha", 0.2)], 16), ("Elu", [float("alpha", 0.7)], 6),
            ("Sigmoid", [], 13), ("HardSigmoid", [float("alpha", 0.3), float("beta", 0.4)], 6), ("HardSwish", [], 14),
            ("Tanh", [], 13), ("Gelu", [], 20), ("Gelu", [string("approximate", "tanh")], 20), ("Selu", [], 6),
            ("Softplus", [], 1), ("Softsign", [], 1), ("Erf", [], 13), ("Exp", [], 13), ("Neg", [], 13),
            ("Abs", [], 13), ("Identity", [], 16), ("ThresholdedRelu", [float("alpha", 0.5)], 10),
        ]
        for (op, attrs, opset) in cases {
            // Values kept away from the kinks (0, ±3) so that ± h stays on one side.
            let x = try c.tensor([2, 3, 4], scale: 4)
            for i in 0..<x.count where [0, 0.5, 3, -3].contains(where: { abs(x.floatPointer[i] - $0) < 0.05 }) {
                x.floatPointer[i] += 0.1
            }
            try c.check(node(op, 1, attrs), opset: opset, [x], wanted: [0])
        }
        try c.check(node("Log", 1), opset: 13, [try c.tensor([3, 4], scale: 0.5, offset: 1)], wanted: [0])
        try c.check(node("Sqrt", 1), opset: 13, [try c.tensor([3, 4], scale: 0.5, offset: 1)], wanted: [0])
        try c.check(node("Reciprocal", 1), opset: 13, [try c.tensor([3, 4], scale: 0.5, offset: 1.5)], wanted: [0])
    }

    func testClipBothForms() throws {
        var c = GradientCheck()
        let x = try c.tensor([3, 5], scale: 8)
        try c.check(node("Clip", 3), opset: 13, [x, try RuntimeTensor(shape: [], floats: [0]), try RuntimeTensor(shape: [], floats: [6])],
                    wanted: [0])
        try c.check(node("Clip", 1, [float("min", -1), float("max", 2)]), opset: 6, [x], wanted: [0])
    }

    func testPReluSlopes() throws {
        var c = GradientCheck()
        for (xs, ss) in [([2, 3, 2, 2], [3, 1, 1]), ([4, 5], [5])] {
            // No element within h of the kink at 0.
            let x = try c.tensor(xs)
            for i in 0..<x.count where abs(x.floatPointer[i]) < 0.05 { x.floatPointer[i] += 0.1 }
            try c.check(node("PRelu", 2), [x, try c.tensor(ss)], wanted: [0, 1])
        }
    }

    func testSoftmaxAxes() throws {
        var c = GradientCheck()
        try c.check(node("Softmax", 1), opset: 13, [try c.tensor([3, 5])], wanted: [0])
        try c.check(node("Softmax", 1, [int("axis", 1)]), opset: 13, [try c.tensor([2, 3, 4])], wanted: [0])
        try c.check(node("Softmax", 1, [int("axis", 1)]), opset: 11, [try c.tensor([2, 3, 4])], wanted: [0])
        try c.check(node("LogSoftmax", 1), opset: 13, [try c.tensor([3, 5])], wanted: [0])
        try c.check(node("LogSoftmax", 1), opset: 11, [try c.tensor([2, 2, 3])], wanted: [0])
    }
}

final class PoolingGradientTests: XCTestCase {
    func testMaxAndAveragePool() throws {
        var c = GradientCheck()
        let variants: [[Attribute]] = [
            [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])],
            [ints("kernel_shape", [3, 3]), ints("strides", [2, 2]), ints("pads", [1, 1, 1, 1])],
            [ints("kernel_shape", [3, 2]), ints("strides", [2, 1]), int("ceil_mode", 1)],
            [ints("kernel_shape", [3, 3]), string("auto_pad", "SAME_UPPER"), ints("strides", [2, 2])],
        ]
        // Distinct values 0.05 apart, so that ± h never changes a window's maximum.
        var order = Array(0..<(2 * 2 * 7 * 6))
        order.shuffle(using: &c.random)
        let spaced = try RuntimeTensor(shape: [2, 2, 7, 6], floats: order.map { Float($0) * 0.05 - 4 })
        for attrs in variants {
            try c.check(node("MaxPool", 1, attrs), [spaced], wanted: [0])
            try c.check(node("AveragePool", 1, attrs), [try c.tensor([2, 2, 7, 6])], wanted: [0])
            try c.check(node("AveragePool", 1, attrs + [int("count_include_pad", 1)]), [try c.tensor([1, 2, 7, 6])], wanted: [0])
        }
        try c.check(node("MaxPool", 1, [ints("kernel_shape", [3]), ints("strides", [2]), ints("dilations", [2])]),
                    opset: 12, [try spaced.viewed(as: [2, 4, 21])], wanted: [0])
        try c.check(node("AveragePool", 1, [ints("kernel_shape", [3]), ints("pads", [1, 1])]), [try c.tensor([2, 3, 7])], wanted: [0])
    }

    func testGlobalPools() throws {
        var c = GradientCheck()
        try c.check(node("GlobalAveragePool", 1), [try c.tensor([2, 3, 4, 5])], wanted: [0])
        try c.check(node("GlobalMaxPool", 1), [try RuntimeTensor(shape: [2, 3, 4, 5], floats: (0..<120).map { Float(($0 * 37) % 120) * 0.05 })],
                    wanted: [0])
    }
}

final class ElementwiseGradientTests: XCTestCase {
    func testBroadcastArithmetic() throws {
        var c = GradientCheck()
        let pairs: [([Int], [Int])] = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [3, 1]), ([4], [2, 3, 4]), ([2, 1, 4], [1, 3, 1])]
        for (a, b) in pairs {
            for op in ["Add", "Sub", "Mul"] {
                try c.check(node(op, 2), [try c.tensor(a), try c.tensor(b)], wanted: [0, 1])
            }
            try c.check(node("Div", 2), [try c.tensor(a), try c.tensor(b, scale: 0.5, offset: 2)], wanted: [0, 1])
        }
        try c.check(node("Sum", 3), [try c.tensor([2, 3]), try c.tensor([3]), try c.tensor([2, 1])], wanted: [0, 1, 2])
        try c.check(node("Mean", 2), [try c.tensor([2, 3]), try c.tensor([2, 3])], wanted: [0, 1])
    }
}

final class DataMovementGradientTests: XCTestCase {
    func int64(_ v: [Int]) throws -> RuntimeTensor { try RuntimeTensor(shape: [v.count], int64s: v.map { Int64($0) }) }

    func testViews() throws {
        var c = GradientCheck()
        try c.check(node("Flatten", 1, [int("axis", 1)]), [try c.tensor([2, 3, 2])], wanted: [0])
        try c.check(node("Reshape", 2), [try c.tensor([2, 6]), try int64([3, -1])], wanted: [0])
        try c.check(node("Squeeze", 2), opset: 13, [try c.tensor([2, 1, 3]), try int64([1])], wanted: [0])
        try c.check(node("Unsqueeze", 2), opset: 13, [try c.tensor([2, 3]), try int64([0])], wanted: [0])
    }

    func testRoutedOperators() throws {
        var c = GradientCheck()
        try c.check(node("Transpose", 1, [ints("perm", [2, 0, 1])]), [try c.tensor([2, 3, 4])], wanted: [0])
        try c.check(node("Concat", 3, [int("axis", 1)]), [try c.tensor([2, 2, 3]), try c.tensor([2, 1, 3]), try c.tensor([2, 4, 3])],
                    wanted: [0, 1, 2])
        try c.check(node("Concat", 2, [int("axis", 1)]), [try c.tensor([2, 2]), try c.tensor([2, 3])], wanted: [1])
        try c.check(node("Split", 2, outputs: 2, [int("axis", 1)]), opset: 13, [try c.tensor([2, 5, 2]), try int64([2, 3])],
                    wanted: [0])
        try c.check(node("Split", 1, outputs: 3, [int("axis", 0)]), opset: 13, [try c.tensor([6, 2])], wanted: [0])
        try c.check(node("Slice", 5), opset: 13, [try c.tensor([4, 6]), try int64([1, 0]), try int64([4, 6]), try int64([0, 1]),
                                                  try int64([2, 2])], wanted: [0])
        try c.check(node("Pad", 3), opset: 13, [try c.tensor([2, 3]), try int64([1, 0, 2, 1]), try RuntimeTensor(shape: [], floats: [1.5])],
                    wanted: [0])
        try c.check(node("Pad", 2, [string("mode", "reflect")]), opset: 13, [try c.tensor([1, 2, 4, 4]), try int64([0, 0, 1, 2, 0, 0, 2, 1])],
                    wanted: [0])
        try c.check(node("Pad", 2, [string("mode", "edge")]), opset: 13, [try c.tensor([2, 3]), try int64([1, 1, 2, 2])], wanted: [0])
        try c.check(node("Gather", 2, [int("axis", 1)]), opset: 13, [try c.tensor([2, 4]), try int64([3, 0, 3])], wanted: [0])
        try c.check(node("Expand", 2), opset: 13, [try c.tensor([3, 1]), try int64([2, 3, 4])], wanted: [0])
        try c.check(node("Tile", 2), opset: 13, [try c.tensor([2, 3]), try int64([2, 2])], wanted: [0])
        let resize = Node(name: "resize", opType: "Resize", inputs: ["x", "", "scales"], outputs: ["y"],
                          attributes: [string("mode", "nearest")])
        try c.check(resize, opset: 13, [try c.tensor([1, 2, 3, 3]), nil, try RuntimeTensor(shape: [4], floats: [1, 1, 2, 1.5])],
                    wanted: [0])
    }

    /// Tensors too large for one float32 digit route in two.
    func testRoutesOfLargeTensors() throws {
        var c = GradientCheck()
        let x = try c.tensor([1 << 23, 3])
        let n = node("Transpose", 1, [ints("perm", [1, 0])])
        let kernel = try NodeKernel(node: n, opset: 13)
        let y = try kernel([x], arena: Arena(), threads: 1)[0]
        let g = GradientInputs(node: n, opset: 13, inputs: [x], outputs: [y], saved: nil, outputGrads: [y], wanted: [true],
                               threads: 1, kernel: kernel, cache: GradientCache())
        guard case .differentiable(let fn) = GradientRegistry.rule(.transpose, node: n, opset: 13) else { return XCTFail() }
        let dx = try fn(g)[0]!
        // The gradient of Σ y² / 2 routed back is x itself.
        for i in stride(from: 0, to: x.count, by: 9973) { XCTAssertEqual(dx.floatPointer[i], x.floatPointer[i]) }
        XCTAssertEqual(dx.floatPointer[x.count - 1], x.floatPointer[x.count - 1])
    }
}
