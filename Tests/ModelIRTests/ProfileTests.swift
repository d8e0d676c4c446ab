import XCTest
@testable import ModelIR

final class ProfileTests: XCTestCase {
    /// Caffe's LeNet: conv20 5x5, pool, conv50 5x5, pool, fc500, ReLU, fc10 on 1x28x28.
    private func lenet(batch: Any = "batch") -> Model {
        let pool = { (x: String, y: String) in
            TG.node("MaxPool", [x], [y], name: "pool_\(y)", [TG.ints("kernel_shape", [2, 2]), TG.ints("strides", [2, 2])])
        }
        let nodes = [
            TG.node("Conv", ["data", "w1", "b1"], ["c1"], name: "conv1"), pool("c1", "p1"),
            TG.node("Conv", ["p1", "w2", "b2"], ["c2"], name: "conv2"), pool("c2", "p2"),
            TG.node("Flatten", ["p2"], ["f"], name: "flatten"),
            TG.node("Gemm", ["f", "w3", "b3"], ["ip1"], name: "ip1", [TG.int("transB", 1)]),
            TG.node("Relu", ["ip1"], ["r"], name: "relu"),
            TG.node("Gemm", ["r", "w4", "b4"], ["ip2"], name: "ip2", [TG.int("transB", 1)]),
        ]
        let weights = [TG.weight("w1", [20, 1, 5, 5]), TG.weight("b1", [20]), TG.weight("w2", [50, 20, 5, 5]),
                       TG.weight("b2", [50]), TG.weight("w3", [500, 800]), TG.weight("b3", [500]),
                       TG.weight("w4", [10, 500]), TG.weight("b4", [10])]
        return TG.model(nodes, inputs: [TG.input("data", [batch, 1, 28, 28])], initializers: weights)
    }

    func testLeNetParamsAndMACs() throws {
        let layers = try lenet().profile()
        XCTAssertEqual(layers.map(\.name), ["conv1", "pool_p1", "conv2", "pool_p2", "flatten", "ip1", "relu", "ip2"])
        XCTAssertEqual(layers.map(\.params), [520, 0, 25_050, 0, 0, 400_500, 0, 5_010])
        // MACs by the formulas: conv = out·(Cin/g)·kH·kW + out (bias); pool = out·k; Gemm = M·N·K + M·N; ReLU = out.
        let conv1 = 20 * 24 * 24 * (1 * 5 * 5) + 20 * 24 * 24
        let pool1 = 20 * 12 * 12 * 4
        let conv2 = 50 * 8 * 8 * (20 * 5 * 5) + 50 * 8 * 8
        let pool2 = 50 * 4 * 4 * 4
        let ip1 = 500 * 800 + 500, relu = 500, ip2 = 10 * 500 + 10
        XCTAssertEqual(layers.map(\.macs), [conv1, pool1, conv2, pool2, 0, ip1, relu, ip2])
        let totals = ProfileTotals(layers)
        XCTAssertEqual(totals.params, 431_080)
        XCTAssertEqual(totals.macs, 2_323_450)
        XCTAssertEqual(totals.layersWithUnknownMACs, [])
        XCTAssertEqual(layers[0].outputShapes, [Shape(fixed: [1, 20, 24, 24])])
        XCTAssertEqual(layers[0].inputShapes.first, Shape(fixed: [1, 1, 28, 28]))
    }

    func testBatchScalesMACsNotParams() throws {
        let one = try lenet().profileTotals(batch: 1)
        let four = try lenet().profileTotals(batch: 4)
        XCTAssertEqual(four.macs, 4 * one.macs)
        XCTAssertEqual(four.params, one.params)
        // A fixed batch in the file is not overridden.
        XCTAssertEqual(try lenet(batch: 2).profileTotals(batch: 4).macs, 2 * one.macs)
        XCTAssertThrowsError(try lenet().profile(batch: 0))
    }

    func testSharedWeightsCountOnceInTotals() throws {
        let nodes = [TG.node("MatMul", ["x", "w"], ["a"], name: "m1"), TG.node("MatMul", ["a", "w"], ["b"], name: "m2")]
        let layers = try TG.model(nodes, inputs: [TG.input("x", ["n", 8])], initializers: [TG.weight("w", [8, 8])]).profile()
        XCTAssertEqual(layers.map(\.params), [64, 64])
        XCTAssertEqual(ProfileTotals(layers).params, 64)
        XCTAssertEqual(layers.map(\.macs), [64, 64])
    }

    func testIntegerConstantsAreNotParametersAndUnknownShapesGiveNilMACs() throws {
        let nodes = [TG.node("Reshape", ["x", "shape"], ["r"], name: "reshape"),
                     TG.node("Relu", ["r"], ["y"], name: "relu"),
                     TG.node("Mystery", ["y"], ["z"], name: "mystery")]
        let layers = try TG.model(nodes, inputs: [TG.input("x", ["n", "seq", 4])],
                                  initializers: [TG.ints("shape", [0, 0, 2, 2])]).profile()
        XCTAssertEqual(layers.map(\.params), [0, 0, 0])
        XCTAssertEqual(layers[0].macs, 0)
        XCTAssertNil(layers[1].macs) // "seq" is not the batch dimension, so it stays unknown
        XCTAssertNil(layers[2].macs)
        XCTAssertEqual(ProfileTotals(layers).layersWithUnknownMACs, ["relu", "mystery"])
    }

    func testNormalisationAndResizeCosts() throws {
        let nodes = [TG.node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name: "bn"),
                     TG.node("GlobalAveragePool", ["y"], ["g"], name: "gap"),
                     TG.node("Resize", ["y", "", "sc"], ["u"], name: "up", [TG.string("mode", "linear")]),
                     TG.node("ConvTranspose", ["y", "wt"], ["t"], name: "deconv", [TG.ints("strides", [2, 2])])]
        let constants = ["s", "b", "m", "v"].map { TG.weight($0, [4]) } + [TG.floats("sc", [1, 1, 2, 2]), TG.weight("wt", [4, 2, 2, 2])]
        let layers = try TG.model(nodes, inputs: [TG.input("x", ["n", 4, 3, 3])], initializers: constants).profile()
        XCTAssertEqual(layers[0].params, 16)
        XCTAssertEqual(layers[0].macs, 36 * 31)
        XCTAssertEqual(layers[1].macs, 36 + 4 * 4)
        XCTAssertEqual(layers[2].params, 4) // float scales are constants of the node
        XCTAssertEqual(layers[2].macs, 4 * 6 * 6 * 4)
        XCTAssertEqual(layers[3].outputShapes, [Shape(fixed: [1, 2, 6, 6])])
        XCTAssertEqual(layers[3].macs, 36 * (2 * 2 * 2)) // input elements × (Cout/g)·kH·kW
    }

    /// onnx-tool's parameter rule: initializers of any type count unless only a hidden data-movement
    /// op reads them; Constant nodes' outputs never count.
    func testParametersFollowOnnxTool() throws {
        let value = Tensor(name: "", floats: [0, 6], dims: [2])
        let nodes = [TG.node("Constant", [], ["lo"], name: "lo", [Attribute("value", .tensor(value))]),
                     TG.node("Clip", ["x", "lo"], ["c"], name: "clip"),
                     TG.node("Split", ["c", "sizes"], ["a", "b"], name: "split", [TG.int("axis", 1)]),
                     TG.node("Gather", ["table", "a"], ["g"], name: "gather")]
        let layers = try TG.model(nodes, inputs: [TG.input("x", ["n", 4])],
                                  initializers: [TG.ints("sizes", [1, 3]), TG.weight("table", [5, 2])]).profile()
        XCTAssertEqual(layers.map(\.params), [0, 0, 2, 0])
        XCTAssertEqual(ProfileTotals(layers).params, 2)
    }

    /// Bound input shapes make a dynamic height and width concrete; mistakes are one-line errors.
    func testInputShapesMakeDynamicSpatialDimsConcrete() throws {
        let nodes = [TG.node("Conv", ["x", "w"], ["y"], name: "conv", [TG.ints("pads", [1, 1, 1, 1])]),
                     TG.node("Relu", ["y"], ["r"], name: "relu")]
        let model = TG.model(nodes, inputs: [TG.input("x", ["n", 3, "h", "w"])], initializers: [TG.weight("w", [8, 3, 3, 3])])
        XCTAssertEqual(try model.profileTotals().layersWithUnknownMACs, ["conv", "relu"])
        let layers = try model.profile(inputShapes: ["x": [2, 3, 32, 16]])
        XCTAssertEqual(layers[0].outputShapes, [Shape(fixed: [2, 8, 32, 16])])
        XCTAssertEqual(layers.map(\.macs), [2 * 8 * 32 * 16 * 27, 2 * 8 * 32 * 16])
        // The batch option does not override a bound batch.
        XCTAssertEqual(try model.profileTotals(batch: 5, inputShapes: ["x": [2, 3, 32, 16]]).macs, layers.compactMap(\.macs).reduce(0, +))
        func message(_ shapes: [String: [Int]]) -> String {
            do { _ = try model.profile(inputShapes: shapes); return "" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(["y": [1, 3, 8, 8]]), "the model has no input 'y' (its inputs: 'x')")
        XCTAssertTrue(message(["x": [1, 3, 8]]).contains("has rank 4"))
        XCTAssertTrue(message(["x": [1, 4, 8, 8]]).contains("dimension 3 on axis 1"))
        XCTAssertTrue(message(["x": [1, 3, 0, 8]]).contains("positive"))
        // An initializer is not an input that can be bound.
        XCTAssertTrue(message(["w": [8, 3, 3, 3]]).contains("no input 'w'"))
    }
}
