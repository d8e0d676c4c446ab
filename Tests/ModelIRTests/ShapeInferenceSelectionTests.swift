import XCTest
@testable import ModelIR

/// Comparisons, logic, Where, ArgMax/ArgMin, TopK and Range: shapes, element types, and the small
/// integer vectors that YOLO-style anchor grids compute (Range, Where folded).
final class ShapeInferenceSelectionTests: XCTestCase {
    func testComparisonsAreBoolAndBroadcast() throws {
        let x = [TG.input("x", ["batch", 1, 5]), TG.input("y", [3, 1])]
        let types = try TG.model([TG.node("Greater", ["x", "y"], ["g"]), TG.node("Not", ["g"], ["n"]),
                                  TG.node("And", ["g", "n"], ["a"])], inputs: x).inferShapes()
        XCTAssertEqual(types["g"]?.description, "bool[batch,3,5]")
        XCTAssertEqual(types["n"]?.description, "bool[batch,3,5]")
        XCTAssertEqual(types["a"]?.description, "bool[batch,3,5]")
        XCTAssertThrowsError(try TG.infer([TG.node("Less", ["x", "z"], ["l"])],
                                          inputs: [TG.input("x", [2, 3]), TG.input("z", [4])]))
    }

    func testWhereTakesTheValuesTypeAndFoldsVectors() throws {
        let types = try TG.model([TG.node("Where", ["c", "a", "b"], ["w"]), TG.node("Where", ["c", "x", "s"], ["v"])],
                                 inputs: [TG.input("x", ["batch", 3]), TG.input("s", [])],
                                 initializers: [TG.ints("c", [1, 0, 1]), TG.ints("a", [7, 8, 9]), TG.ints("b", [-1])])
            .inferShapes()
        XCTAssertEqual(types["w"]?.description, "int64[3]")
        XCTAssertEqual(types["v"]?.description, "float32[batch,3]")
    }

    func testArgMaxAndTopK() throws {
        let x = [TG.input("x", ["batch", 84, 525])]
        let types = try TG.model([TG.node("ArgMax", ["x"], ["a"], [TG.int("axis", 1)]),
                                  TG.node("ArgMin", ["x"], ["m"], [TG.int("keepdims", 0)]),
                                  TG.node("TopK", ["x", "k"], ["v", "i"]),
                                  TG.node("TopK", ["x", "kk"], ["v2", "i2"], [TG.int("axis", 1)])],
                                 inputs: x + [TG.input("kk", [1], type: .int64)],
                                 initializers: [TG.ints("k", [100])]).inferShapes()
        XCTAssertEqual(types["a"]?.description, "int64[batch,1,525]")
        XCTAssertEqual(types["m"]?.description, "int64[84,525]")
        XCTAssertEqual(types["v"]?.description, "float32[batch,84,100]")
        XCTAssertEqual(types["i"]?.description, "int64[batch,84,100]")
        XCTAssertEqual(types["v2"]?.description, "float32[batch,?,525]")
        XCTAssertThrowsError(try TG.infer([TG.node("TopK", ["x", "k"], ["v", "i"])], inputs: [TG.input("x", [2, 3])],
                                          initializers: [TG.ints("k", [4])]))
        XCTAssertEqual(try TG.infer([TG.node("TopK", ["x"], ["v", "i"], [TG.int("k", 2)])], inputs: [TG.input("x", [2, 3])],
                                    opset: 9)["v"], "[2,2]")
    }

    func testRangeFoldsIntegerVectors() throws {
        let types = try TG.model([TG.node("Range", ["s", "l", "d"], ["r"]), TG.node("Range", ["s", "n", "d"], ["u"])],
                                 inputs: [TG.input("n", [], type: .int64)],
                                 initializers: [TG.ints("s", [0], scalar: true), TG.ints("l", [20], scalar: true),
                                                TG.ints("d", [8], scalar: true)], opset: 11).inferShapes()
        XCTAssertEqual(types["r"]?.description, "int64[3]")
        XCTAssertEqual(types["u"]?.description, "int64[?]")
        XCTAssertThrowsError(try TG.infer([TG.node("Range", ["s", "l", "z"], ["r"])], inputs: [],
                                          initializers: [TG.ints("s", [0], scalar: true), TG.ints("l", [2], scalar: true),
                                                         TG.ints("z", [0], scalar: true)], opset: 11))
    }
}
