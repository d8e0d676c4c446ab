import XCTest
@testable import ModelIR

final class OpKindTests: XCTestCase {
    func testLookupByTypeAndDomain() {
        XCTAssertEqual(OpKind(opType: "Conv", domain: ""), .conv)
        XCTAssertEqual(OpKind(opType: "Conv", domain: "ai.onnx"), .conv)
        XCTAssertNil(OpKind(opType: "Conv", domain: "com.microsoft"))
        XCTAssertNil(OpKind(opType: "conv", domain: ""))
        XCTAssertEqual(OpKind(opType: "If", domain: ""), .ifThenElse)
        XCTAssertEqual(Node(opType: "Relu", inputs: ["x"], outputs: ["y"]).kind, .relu)
    }

    func testSectionsCoverTheOpList() {
        let sizes = OpKind.Family.allCases.map { OpKind.members(of: $0).count }
        XCTAssertEqual(sizes, [7, 5, 18, 18, 10, 35, 3])
        XCTAssertEqual(sizes.reduce(0, +), OpKind.allCases.count)
        XCTAssertEqual(Set(OpKind.allCases.map(\.opType)).count, OpKind.allCases.count)
        for kind in OpKind.allCases { XCTAssertEqual(OpKind(opType: kind.opType, domain: ""), kind) }
    }

    func testNamedSets() {
        XCTAssertTrue(OpKind.tiesInputChannels.isSubset(of: OpKind.elementwise))
        XCTAssertTrue(OpKind.passesChannelsThrough.isDisjoint(with: OpKind.tiesInputChannels))
        XCTAssertFalse(OpKind.passesChannelsThrough.contains(.softmax))
        XCTAssertFalse(OpKind.passesChannelsThrough.contains(.conv))
        XCTAssertTrue(OpKind.passesChannelsThrough.contains(.batchNormalization))
        XCTAssertEqual(OpKind.knownButNotExecuted, [.ifThenElse, .loop, .scan])
        XCTAssertEqual(OpKind.activations.count, 18)
        XCTAssertTrue(OpKind.passesChannelsThrough.contains(.thresholdedRelu))
    }
}

final class OpKindFactsTests: XCTestCase {
    func testFactsAgreeWithEachOther() {
        for kind in OpKind.allCases {
            // An operator that runs element by element keeps channels one to one and samples apart.
            if kind.isElementwiseUnary {
                XCTAssertEqual(kind.channelFlow, .oneToOne, "\(kind)")
                XCTAssertEqual(kind.sampleIndependence, .always, "\(kind)")
            }
            if kind.convEpilogueRole != nil { XCTAssertEqual(kind.channelFlow, .oneToOne, "\(kind)") }
            if kind.isApozActivation { XCTAssertTrue(kind.isElementwiseUnary, "\(kind)") }
            if OpKind.knownButNotExecuted.contains(kind) { XCTAssertEqual(kind.sampleIndependence, .no, "\(kind)") }
        }
        XCTAssertEqual(OpKind.tiesInputChannels, [.add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean])
    }
}
