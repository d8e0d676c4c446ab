import XCTest
@testable import ModelIR

/// Shape and data-movement operators across opsets, and the shape computations exporters emit.
final class ShapeInferenceDataMovementTests: XCTestCase {
    func testPyTorchDynamicBatchReshapeChainKeepsBatch() throws {
        // Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])), as torch.onnx emits for x.view(x.size(0), -1).
        let nodes = [
            TG.node("Shape", ["x"], ["shape"]),
            TG.node("Constant", [], ["zero"], [Attribute("value", .tensor(TG.ints("", [0], scalar: true)))]),
            TG.node("Gather", ["shape", "zero"], ["n"], [TG.int("axis", 0)]),
            TG.node("Unsqueeze", ["n", "axes0"], ["n1"]),
            TG.node("Concat", ["n1", "minus1"], ["target"], [TG.int("axis", 0)]),
            TG.node("Reshape", ["x", "target"], ["y"]),
        ]
        let types = try TG.model(nodes, inputs: [TG.input("x", ["batch", 50, 4, 4])],
                                 initializers: [TG.ints("axes0", [0]), TG.ints("minus1", [-1])], opset: 13).inferShapes()
        XCTAssertEqual(types["n"]?.shape, Shape([]))
        XCTAssertEqual(types["target"]?.shape, [2])
        XCTAssertEqual(types["target"]?.elementType, .int64)
        XCTAssertEqual(types["y"]?.description, "float32[batch,800]")
        XCTAssertEqual(types["y"]?.shape?[0], .symbol("batch"))
    }

    func testFlatten() throws {
        let x = [TG.input("x", ["batch", 50, 4, 4])]
        XCTAssertEqual(try TG.infer([TG.node("Flatten", ["x"], ["y"])], inputs: x)["y"], "[batch,800]")
        XCTAssertEqual(try TG.infer([TG.node("Flatten", ["x"], ["y"], [TG.int("axis", 0)])], inputs: x)["y"], "[1,?]")
        XCTAssertEqual(try TG.infer([TG.node("Flatten", ["x"], ["y"], [TG.int("axis", -2)])], inputs: x)["y"], "[?,16]")
        XCTAssertThrowsError(try TG.infer([TG.node("Flatten", ["x"], ["y"], [TG.int("axis", 5)])], inputs: x))
    }

    func testReshapeZeroAndMinusOne() throws {
        let run = { (target: [Int64], dims: [Any]) in
            try TG.infer([TG.node("Reshape", ["x", "s"], ["y"], name: "r")], inputs: [TG.input("x", dims)],
                         initializers: [TG.ints("s", target)])["y"]
        }
        XCTAssertEqual(try run([0, -1], [2, 3, 4]), "[2,12]")
        XCTAssertEqual(try run([-1, 800], ["batch", 50, 4, 4]), "[batch,800]")
        XCTAssertEqual(try run([0, 0, -1], ["batch", 50, 4, 4]), "[batch,50,16]")
        XCTAssertEqual(try run([-1], ["batch", 50, 4, 4]), "[?]")
        XCTAssertThrowsError(try run([4, 2], [2, 3])) { e in
            XCTAssertEqual("\(e)", "node 'r' (Reshape): cannot reshape [2,3] (6 elements) into [4,2] (8 elements)")
        }
        XCTAssertThrowsError(try run([-1, 5], [2, 3]))
        XCTAssertThrowsError(try run([-1, -1], [2, 3]))
        // allowzero (opset 14): 0 is a real zero size, not a copy.
        let zero = try TG.infer([TG.node("Reshape", ["x", "s"], ["y"], [TG.int("allowzero", 1)])],
                                inputs: [TG.input("x", [0, 3])], initializers: [TG.ints("s", [3, 0])], opset: 14)
        XCTAssertEqual(zero["y"], "[3,0]")
    }

    func testSqueezeUnsqueezeInBothOpsetStyles() throws {
        let x = [TG.input("x", ["n", 1, 5, 1])]
        let old = try TG.infer([TG.node("Squeeze", ["x"], ["s"], [TG.ints("axes", [1, -1])]),
                                TG.node("Unsqueeze", ["s"], ["u"], [TG.ints("axes", [0, 3])])], inputs: x, opset: 11)
        XCTAssertEqual(old["s"], "[n,5]")
        XCTAssertEqual(old["u"], "[1,n,5,1]")
        let new = try TG.infer([TG.node("Squeeze", ["x", "a"], ["s"]), TG.node("Unsqueeze", ["s", "b"], ["u"])],
                               inputs: x, initializers: [TG.ints("a", [1, 3]), TG.ints("b", [-1])], opset: 13)
        XCTAssertEqual(new["s"], "[n,5]")
        XCTAssertEqual(new["u"], "[n,5,1]")
        XCTAssertThrowsError(try TG.infer([TG.node("Squeeze", ["x"], ["s"], [TG.ints("axes", [2])])], inputs: x, opset: 11))
        let all = try TG.infer([TG.node("Squeeze", ["x"], ["s"])], inputs: [TG.input("x", [1, 5, 1])], opset: 13)
        XCTAssertEqual(all["s"], "[5]")
    }

    func testSlice() throws {
        let x = [TG.input("x", ["n", 10, 20])]
        let s = try TG.infer([TG.node("Slice", ["x", "st", "en", "ax"], ["y"]),
                              TG.node("Slice", ["x", "st2", "en2", "ax2", "sp2"], ["z"])],
                             inputs: x, initializers: [TG.ints("st", [2]), TG.ints("en", [-2]), TG.ints("ax", [2]),
                                                       TG.ints("st2", [-1]), TG.ints("en2", [Int64.min]),
                                                       TG.ints("ax2", [1]), TG.ints("sp2", [-2])], opset: 13)
        XCTAssertEqual(s["y"], "[n,10,16]")
        XCTAssertEqual(s["z"], "[n,5,20]") // 9, 7, 5, 3, 1
        let old = try TG.infer([TG.node("Slice", ["x"], ["y"], [TG.ints("starts", [0, 3]), TG.ints("ends", [Int64.max, 100]),
                                                                TG.ints("axes", [0, 1])])], inputs: x, opset: 9)
        XCTAssertEqual(old["y"], "[n,7,20]")
        XCTAssertThrowsError(try TG.infer([TG.node("Slice", ["x", "st", "en", "ax", "zero"], ["y"])], inputs: x,
                                          initializers: [TG.ints("st", [0]), TG.ints("en", [1]), TG.ints("ax", [1]),
                                                         TG.ints("zero", [0])], opset: 13))
    }

    func testConcatAndSplit() throws {
        let x = [TG.input("a", ["n", 3, 8, 8]), TG.input("b", ["n", 5, 8, 8])]
        let s = try TG.infer([TG.node("Concat", ["a", "b"], ["c"], [TG.int("axis", 1)]),
                              TG.node("Split", ["c"], ["p", "q"], [TG.int("axis", 1), TG.ints("split", [2, 6])])],
                             inputs: x, opset: 11)
        XCTAssertEqual(s["c"], "[n,8,8,8]")
        XCTAssertEqual(s["p"], "[n,2,8,8]")
        XCTAssertEqual(s["q"], "[n,6,8,8]")
        XCTAssertThrowsError(try TG.infer([TG.node("Concat", ["a", "b"], ["c"], name: "cat", [TG.int("axis", 1)])],
                                          inputs: [TG.input("a", [1, 3, 8, 8]), TG.input("b", [1, 5, 7, 8])])) { e in
            XCTAssertTrue("\(e)".hasPrefix("node 'cat' (Concat): input 1 [1,5,7,8] differs"), "\(e)")
        }
        let equal = try TG.infer([TG.node("Split", ["a"], ["p", "q", "r"], [TG.int("axis", 1)])], inputs: x, opset: 13)
        XCTAssertEqual(equal["r"], "[n,1,8,8]")
        let uneven = try TG.infer([TG.node("Split", ["x"], ["p", "q", "r", "s"], [TG.int("num_outputs", 4)])],
                                  inputs: [TG.input("x", [7])], opset: 18)
        XCTAssertEqual([uneven["p"], uneven["s"]], ["[2]", "[1]"])
        XCTAssertThrowsError(try TG.infer([TG.node("Split", ["a", "sz"], ["p", "q"], [TG.int("axis", 1)])], inputs: x,
                                          initializers: [TG.ints("sz", [1, 1])], opset: 13))
    }

    func testResizeAndUpsample() throws {
        let x = [TG.input("x", ["n", 3, 8, 8])]
        let scales = try TG.infer([TG.node("Resize", ["x", "", "sc"], ["y"])], inputs: x,
                                  initializers: [TG.floats("sc", [1, 1, 2, 1.5])], opset: 13)
        XCTAssertEqual(scales["y"], "[n,3,16,12]")
        let sizes = try TG.infer([TG.node("Resize", ["x", "roi", "sc", "sz"], ["y"])], inputs: x,
                                 initializers: [TG.floats("roi", []), TG.floats("sc", []), TG.ints("sz", [1, 3, 5, 5])],
                                 opset: 11)
        XCTAssertEqual(sizes["y"], "[1,3,5,5]")
        let upsample = try TG.infer([TG.node("Upsample", ["x"], ["y"], [Attribute("scales", .floats([1, 1, 2, 2]))])],
                                    inputs: x, opset: 7)
        XCTAssertEqual(upsample["y"], "[n,3,16,16]")
    }

    func testReductions() throws {
        let x = [TG.input("x", ["n", 16, 4, 4])]
        let s = try TG.infer([TG.node("ReduceMean", ["x"], ["m"], [TG.ints("axes", [2, 3])]),
                              TG.node("ReduceSum", ["x", "ax"], ["s"], [TG.int("keepdims", 0)]),
                              TG.node("ReduceMax", ["x"], ["a"], [TG.int("keepdims", 0)])],
                             inputs: x, initializers: [TG.ints("ax", [1])], opset: 13)
        XCTAssertEqual(s["m"], "[n,16,1,1]")
        XCTAssertEqual(s["s"], "[n,4,4]")
        XCTAssertEqual(s["a"], "[]")
        let noop = try TG.infer([TG.node("ReduceSum", ["x"], ["s"], [TG.int("noop_with_empty_axes", 1)])], inputs: x, opset: 13)
        XCTAssertEqual(noop["s"], "[n,16,4,4]")
    }

    func testOtherDataMovement() throws {
        let nodes = [
            TG.node("Transpose", ["x"], ["t"], [TG.ints("perm", [0, 2, 3, 1])]),
            TG.node("Expand", ["y", "es"], ["e"]),
            TG.node("Tile", ["y", "reps"], ["ti"]),
            TG.node("Pad", ["x", "pads"], ["p"]),
            TG.node("Gather", ["x", "idx"], ["g"], [TG.int("axis", 1)]),
            TG.node("Cast", ["x"], ["c"], [TG.int("to", 10)]),
            TG.node("Dropout", ["x"], ["d", "mask"]),
            TG.node("Shape", ["x"], ["sh"], [TG.int("start", 1), TG.int("end", -1)]),
            TG.node("ConstantOfShape", ["sh"], ["zeros"]),
            TG.node("Constant", [], ["k"], [Attribute("value_floats", .floats([1, 2, 3]))]),
        ]
        let types = try TG.model(nodes, inputs: [TG.input("x", ["n", 3, 4, 5]), TG.input("y", [3, 1])],
                                 initializers: [TG.ints("es", [2, 1, 6]), TG.ints("reps", [2, 3]),
                                                TG.ints("pads", [0, 0, 1, 2, 0, 0, 1, 0]), TG.ints("idx", [0, 2, 1, 1])],
                                 opset: 15).inferShapes()
        let s = types.mapValues { $0.shape?.description ?? "?" }
        XCTAssertEqual(s["t"], "[n,4,5,3]")
        XCTAssertEqual(s["e"], "[2,3,6]")
        XCTAssertEqual(s["ti"], "[6,3]")
        XCTAssertEqual(s["p"], "[n,3,6,7]")
        XCTAssertEqual(s["g"], "[n,4,4,5]")
        XCTAssertEqual(types["c"]?.elementType, .float16)
        XCTAssertEqual(types["mask"]?.elementType, .bool)
        XCTAssertEqual(s["sh"], "[2]")
        XCTAssertEqual(s["zeros"], "[3,4]")
        XCTAssertEqual(s["k"], "[3]")
        XCTAssertThrowsError(try TG.infer([TG.node("Transpose", ["x"], ["t"], [TG.ints("perm", [0, 0, 1, 2])])],
                                          inputs: [TG.input("x", [1, 2, 3, 4])]))
        XCTAssertThrowsError(try TG.infer([TG.node("Gather", ["x", "i"], ["g"])], inputs: [TG.input("x", [3])],
                                          initializers: [TG.ints("i", [3])]))
    }
}

/// Shapes of the operators OpKind learned from the runtime's table.
final class ShapeInferenceRuntimeOpsTests: XCTestCase {
    func testUnaryReduceAndSize() throws {
        let s = try TG.infer([
            TG.node("Sign", ["x"], ["sign"]),
            TG.node("Shrink", ["x"], ["shrink"]),
            TG.node("Floor", ["x"], ["floor"]),
            TG.node("ReduceL2", ["x"], ["l2"], [TG.ints("axes", [2, 3])]),
            TG.node("ReduceLogSumExp", ["x"], ["lse"], [TG.ints("axes", [1]), TG.int("keepdims", 0)]),
            TG.node("Size", ["x"], ["size"]),
        ], inputs: [TG.input("x", ["batch", 3, 4, 5])])
        XCTAssertEqual(s["sign"], "[batch,3,4,5]")
        XCTAssertEqual(s["shrink"], "[batch,3,4,5]")
        XCTAssertEqual(s["floor"], "[batch,3,4,5]")
        XCTAssertEqual(s["l2"], "[batch,3,1,1]")
        XCTAssertEqual(s["lse"], "[batch,4,5]")
        XCTAssertEqual(s["size"], "[]")
    }
}
