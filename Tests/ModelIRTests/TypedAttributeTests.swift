import XCTest
@testable import ModelIR

/// Typed attribute structs: the specification's defaults when a node gives none, its values when it does.
final class TypedAttributeTests: XCTestCase {
    private func node(_ op: String, _ attributes: [Attribute] = []) -> Node {
        Node(opType: op, inputs: ["x"], outputs: ["y"], attributes: attributes)
    }

    func testDefaultsAndGivenValues() {
        XCTAssertEqual(ConvAttributes(node("Conv")).group, 1)
        XCTAssertEqual(ConvAttributes(node("Conv", [Attribute("group", .int(4))])).group, 4)
        let gemm = GemmAttributes(node("Gemm", [Attribute("transB", .int(1)), Attribute("beta", .float(0.5))]))
        XCTAssertEqual(gemm, GemmAttributes(node("Gemm", [Attribute("transB", .int(1)), Attribute("beta", .float(0.5))])))
        XCTAssertEqual([gemm.alpha, gemm.beta], [1, 0.5])
        XCTAssertEqual([gemm.transA, gemm.transB], [false, true])
        XCTAssertEqual(LeakyReluAttributes(node("LeakyRelu")).alpha, 0.01)
        XCTAssertEqual(LeakyReluAttributes(node("LeakyRelu", [Attribute("alpha", .float(0.2))])).alpha, 0.2)
        XCTAssertEqual(ThresholdedReluAttributes(node("ThresholdedRelu")).alpha, 1)
        XCTAssertEqual(EluAttributes(node("Elu")).alpha, 1)
        XCTAssertEqual(SeluAttributes(node("Selu")).gamma, 1.05070102214813232421875)
        XCTAssertEqual(HardSigmoidAttributes(node("HardSigmoid")).beta, 0.5)
        let bn = BatchNormalizationAttributes(node("BatchNormalization", [Attribute("spatial", .int(0))]))
        XCTAssertEqual([bn.epsilon, bn.momentum], [1e-5, 0.9])
        XCTAssertEqual([bn.trainingMode, bn.spatial], [false, false])
        let reduce = ReduceAttributes(node("ReduceMean", [Attribute("keepdims", .int(0))]))
        XCTAssertEqual([reduce.keepDims, reduce.noopWithEmptyAxes], [false, false])
        XCTAssertEqual([ReduceAttributes.axesInputSince(.reduceSum), ReduceAttributes.axesInputSince(.reduceL2)], [13, 18])
    }

    func testAxisDefaultsFollowTheOpset() {
        XCTAssertEqual(node("Softmax").axis(opset: 11), 1)
        XCTAssertEqual(node("Softmax").axis(opset: 13), -1)
        XCTAssertEqual(node("Softmax", [Attribute("axis", .int(2))]).axis(opset: 13), 2)
        XCTAssertEqual(node("Flatten").axis(opset: 13), 1)
        XCTAssertEqual(node("Gather").axis(opset: 13), 0)
        XCTAssertEqual(node("LayerNormalization").axis(opset: 17), -1)
        XCTAssertNil(node("Relu").axis(opset: 13))
        let withAxis = OpKind.allCases.filter { $0.defaultAxis(opset: 13) != nil }
        XCTAssertEqual(Set(withAxis), [.flatten, .softmax, .logSoftmax, .layerNormalization, .gather, .split, .concat,
                                       .argMax, .argMin, .topK])
        XCTAssertEqual(node("TopK").axis(opset: 11), -1)
        XCTAssertEqual(node("ArgMax").axis(opset: 13), 0)
    }

    func testWindowDefaultsAndAutoPad() throws {
        let plain = try WindowAttributes(node("MaxPool", [Attribute("kernel_shape", .ints([3, 3]))]))
        XCTAssertEqual(plain.kernelShape, [3, 3])
        XCTAssertNil(plain.strides)
        XCTAssertEqual(plain.strides(rank: 2), [1, 1])
        XCTAssertEqual(plain.dilations(rank: 1), [1])
        XCTAssertEqual(plain.pads(rank: 2), [0, 0, 0, 0])
        XCTAssertEqual(plain.outputPadding(rank: 2), [0, 0])
        XCTAssertEqual(plain.autoPad, .notSet)
        XCTAssertEqual([plain.ceilMode, plain.countIncludePad, plain.columnMajorIndices], [false, false, false])
        let given = try WindowAttributes(node("AveragePool", [
            Attribute("strides", .ints([2, 1])), Attribute("pads", .ints([1, 0, 1, 0])), Attribute("auto_pad", .string(Array("SAME_LOWER".utf8))),
            Attribute("ceil_mode", .int(1)), Attribute("count_include_pad", .int(1)), Attribute("storage_order", .int(1)),
        ]))
        XCTAssertEqual(given.strides(rank: 2), [2, 1])
        XCTAssertEqual(given.pads(rank: 2), [1, 0, 1, 0])
        XCTAssertEqual(given.autoPad, .sameLower)
        XCTAssertTrue(given.autoPad.isSame)
        XCTAssertEqual([given.ceilMode, given.countIncludePad, given.columnMajorIndices], [true, true, true])
        // Some exporters write an empty auto_pad for NOTSET; an unknown one is an error.
        XCTAssertEqual(try WindowAttributes(node("Conv", [Attribute("auto_pad", .string([]))])).autoPad, .notSet)
        XCTAssertThrowsError(try WindowAttributes(node("Conv", [Attribute("auto_pad", .string(Array("SAME".utf8)))])))
    }

    func testOtherOperatorDefaults() {
        XCTAssertEqual(ClipAttributes(node("Clip")).min, -.greatestFiniteMagnitude)
        XCTAssertEqual(ClipAttributes(node("Clip", [Attribute("max", .float(6))])).max, 6)
        XCTAssertEqual(DropoutAttributes(node("Dropout")).ratio, 0.5)
        XCTAssertFalse(GeluAttributes(node("Gelu")).usesTanh)
        XCTAssertTrue(GeluAttributes(node("Gelu", [Attribute("approximate", .string(Array("tanh".utf8)))])).usesTanh)
        let shrink = ShrinkAttributes(node("Shrink"))
        XCTAssertEqual([shrink.lambda, shrink.bias], [0.5, 0])
        let lrn = LRNAttributes(node("LRN", [Attribute("size", .int(5))]))
        XCTAssertEqual(lrn.size, 5)
        XCTAssertEqual([lrn.alpha, lrn.beta, lrn.bias], [1e-4, 0.75, 1])
        XCTAssertNil(LRNAttributes(node("LRN")).size)
        let resize = ResizeAttributes(node("Resize"), legacy: false)
        XCTAssertEqual([resize.mode, resize.coordinateTransformation, resize.nearestMode, resize.keepAspectRatioPolicy],
                       ["nearest", "half_pixel", "round_prefer_floor", "stretch"])
        let upsample = ResizeAttributes(node("Upsample"), legacy: true)
        XCTAssertEqual([upsample.coordinateTransformation, upsample.nearestMode], ["asymmetric", "floor"])
        XCTAssertEqual(PadAttributes(node("Pad")).mode, "constant")
        XCTAssertFalse(ReshapeAttributes(node("Reshape")).allowZero)
    }
}
