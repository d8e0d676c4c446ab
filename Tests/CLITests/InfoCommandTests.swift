import Foundation
import XCTest

final class InfoCommandTests: XCTestCase {
    /// LeNet's parameters and MACs, by hand: conv1 20·1·5·5+20 = 520, conv2 50·20·5·5+50 = 25,050,
    /// fc1 800·500+500 = 400,500, fc2 500·10+10 = 5,010; conv1 MACs 20·24·24·25 + 11,520 bias adds.
    func testLeNetTableAndTotals() throws {
        let r = try modeltool(["info", "Fixtures/models/lenet.onnx"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "Fixtures/models/lenet.onnx")
        XCTAssertTrue(lines.contains("  inputs      input float32[batch,1,28,28]"), r.stdout)
        XCTAssertTrue(lines.contains("  outputs     logits float32[batch,10]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("/conv1/Conv  Conv       float32[batch,1,28,28] -> float32[batch,20,24,24]          520    299,520"), r.stdout)
        XCTAssertTrue(r.stdout.contains("  total       431,080 parameters (431.1K), 2,338,170 MACs (2.34M)"), r.stdout)
    }

    func testJSONCarriesTheSameNumbers() throws {
        let r = try modeltool(["info", "--json", "--batch", "4", "Fixtures/models/lenet_dynamo.onnx"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["totalParams"] as? Int, 431_080)
        XCTAssertEqual(object?["totalMACs"] as? Int, 4 * 2_338_170)
        XCTAssertEqual(object?["irVersion"] as? Int, 10)
        let layers = object?["layers"] as? [[String: Any]]
        XCTAssertEqual(layers?.count, 10)
        XCTAssertEqual(layers?.first?["op"] as? String, "Conv")
    }

    func testBadFileGivesOneLineErrorAndExitStatus() throws {
        let r = try modeltool(["info", "Fixtures/bad/truncated.onnx"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "modeltool: Fixtures/bad/truncated.onnx: not a valid ONNX protobuf (malformed or truncated)\n")
        let missing = try modeltool(["info", "no/such/model.onnx"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.hasPrefix("modeltool: no/such/model.onnx: cannot open"), missing.stderr)
    }

    func testHelpTeachesTheCountingConventions() throws {
        let r = try modeltool(["info", "--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("onnx-tool"), r.stdout)
        XCTAssertTrue(r.stdout.contains("N*Cout*Hout*Wout*(Cin/group)*kH*kW"), r.stdout)
    }

    /// --input-shape binds the input: shapes become concrete and MACs scale with the batch given.
    func testInputShapeMakesShapesAndMACsConcrete() throws {
        let r = try modeltool(["info", "Fixtures/models/lenet.onnx", "--input-shape", "input=3,1,28,28"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("  inputs      input float32[3,1,28,28]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("float32[3,1,28,28] -> float32[3,20,24,24]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("7,014,510 MACs (7.01M) for inputs input=3,1,28,28,"), r.stdout)

        let wrongName = try modeltool(["info", "Fixtures/models/lenet.onnx", "--input-shape", "image=1,1,28,28"])
        XCTAssertEqual(wrongName.status, 1)
        XCTAssertEqual(wrongName.stderr, "modeltool: Fixtures/models/lenet.onnx: the model has no input 'image' (its inputs: 'input')\n")
        let wrongDim = try modeltool(["info", "Fixtures/models/lenet.onnx", "--input-shape", "input=1,1,32,32"])
        XCTAssertEqual(wrongDim.status, 1)
        XCTAssertTrue(wrongDim.stderr.contains("has dimension 28 on axis 2"), wrongDim.stderr)
        let twice = try modeltool(["info", "Fixtures/models/lenet.onnx", "--input-shape", "input=1,1,28,28",
                                   "--input-shape", "input=2,1,28,28"])
        XCTAssertNotEqual(twice.status, 0)
        XCTAssertTrue(twice.stderr.contains("names input 'input' twice"), twice.stderr)
        let malformed = try modeltool(["info", "Fixtures/models/lenet.onnx", "--input-shape", "input=1,x"])
        XCTAssertNotEqual(malformed.status, 0)
    }
}
