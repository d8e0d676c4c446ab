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
        XCTAssertEqual(Set(withAxis), [.flatten, .softmax, .logSoftmax, .layerNormalization, .gather, .split, .concat])
    }
}
