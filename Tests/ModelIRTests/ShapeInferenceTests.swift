import XCTest
@testable import ModelIR

/// Convolution, pooling, dense, normalisation and element-wise shapes, checked by hand.
final class ShapeInferenceTests: XCTestCase {
    private func conv(_ w: String, _ attrs: [Attribute] = [], bias: String? = nil, name: String = "conv") -> Node {
        TG.node("Conv", ["x", w] + (bias.map { [$0] } ?? []), ["y"], name: name, attrs)
    }

    private func assertError(_ body: @autoclosure () throws -> Any?, contains parts: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            let message = "\(e)"
            XCTAssertTrue(e is ModelError, "not a ModelError: \(e)", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "multi-line message: \(message)", file: file, line: line)
            for p in parts { XCTAssertTrue(message.contains(p), "'\(message)' lacks '\(p)'", file: file, line: line) }
        }
    }

    func testConvKeepsSymbolicBatch() throws {
        let s = try TG.infer([conv("w", bias: "b")], inputs: [TG.input("x", ["batch", 1, 28, 28])],
                             initializers: [TG.weight("w", [20, 1, 5, 5]), TG.weight("b", [20])])
        XCTAssertEqual(s["y"], "[batch,20,24,24]")
    }

    func testConvPadsStridesDilations() throws {
        // (32 + 1 + 1 - ((3 - 1)·2 + 1)) / 2 + 1 = 29 / 2 + 1 = 15
        let attrs = [TG.ints("pads", [1, 1, 1, 1]), TG.ints("strides", [2, 2]), TG.ints("dilations", [2, 2])]
        let s = try TG.infer([conv("w", attrs)], inputs: [TG.input("x", [1, 3, 32, 32])],
                             initializers: [TG.weight("w", [8, 3, 3, 3])])
        XCTAssertEqual(s["y"], "[1,8,15,15]")
    }

    func testConvAutoPad() throws {
        let w = [TG.weight("w", [4, 3, 3, 3])]
        let same = try TG.infer([conv("w", [TG.string("auto_pad", "SAME_UPPER"), TG.ints("strides", [2, 2])])],
                                inputs: [TG.input("x", [1, 3, 7, 8])], initializers: w)
        XCTAssertEqual(same["y"], "[1,4,4,4]") // ceil(7/2), ceil(8/2)
        let valid = try TG.infer([conv("w", [TG.string("auto_pad", "VALID"), TG.ints("strides", [2, 2])])],
                                 inputs: [TG.input("x", [1, 3, 7, 8])], initializers: w)
        XCTAssertEqual(valid["y"], "[1,4,3,3]") // (7-3)/2+1, (8-3)/2+1
    }

    func testGroupedConvAndChannelMismatch() throws {
        let s = try TG.infer([conv("w", [TG.int("group", 2)])], inputs: [TG.input("x", [1, 4, 8, 8])],
                             initializers: [TG.weight("w", [8, 2, 3, 3])])
        XCTAssertEqual(s["y"], "[1,8,6,6]")
        assertError(try TG.infer([conv("w", name: "c1")], inputs: [TG.input("x", [1, 4, 8, 8])],
                                 initializers: [TG.weight("w", [8, 2, 3, 3])]),
                    contains: ["node 'c1' (Conv)", "4 channels", "group 1"])
    }

    func testBadConvAttributesThrowInsteadOfCrashing() {
        let x = [TG.input("x", [1, 3, 8, 8])], w = [TG.weight("w", [4, 3, 3, 3])]
        assertError(try TG.infer([conv("w", [TG.ints("kernel_shape", [-3, 3])])], inputs: x, initializers: w),
                    contains: ["kernel"])
        assertError(try TG.infer([conv("w", [TG.ints("strides", [0, 1])])], inputs: x, initializers: w),
                    contains: ["strides"])
        assertError(try TG.infer([conv("w", [TG.ints("pads", [1, 1])])], inputs: x, initializers: w),
                    contains: ["pads", "expected 4"])
        assertError(try TG.infer([conv("w", [TG.int("group", 0)])], inputs: x, initializers: w), contains: ["group"])
        assertError(try TG.infer([conv("w")], inputs: [TG.input("x", [1, 3, 8])], initializers: w),
                    contains: ["ranks"])
        assertError(try TG.infer([conv("w")], inputs: [TG.input("x", [1, 3, 2, 2])], initializers: w),
                    contains: ["exceeds"])
    }

    func testHugeDimensionsThrowInsteadOfOverflowing() {
        let big = Int(Int64.max / 2)
        assertError(try TG.infer([TG.node("Flatten", ["x"], ["y"])], inputs: [TG.input("x", [big, big, 4])]),
                    contains: ["out of range"])
        assertError(try TG.infer([TG.node("Resize", ["x", "", "sc"], ["y"])], inputs: [TG.input("x", [1, 1 << 40])],
                                 initializers: [TG.floats("sc", [1, 1e8])], opset: 13),
                    contains: ["out of range"])
        let model = TG.model([TG.node("MaxPool", ["x"], ["y"], [TG.ints("kernel_shape", [1 << 40, 1 << 40])])],
                             inputs: [ValueInfo(name: "x")])
        XCTAssertThrowsError(try model.profile()) { e in XCTAssertTrue("\(e)".contains("overflows"), "\(e)") }
    }

    func testPoolCeilMode() throws {
        let pool = { (ceil: Int64, pads: [Int64]) in
            TG.node("MaxPool", ["x"], ["y", "i"], [TG.ints("kernel_shape", [3, 3]), TG.ints("strides", [2, 2]),
                                                   TG.int("ceil_mode", ceil), TG.ints("pads", pads)])
        }
        let x = [TG.input("x", ["n", 1, 6, 6])]
        XCTAssertEqual(try TG.infer([pool(0, [0, 0, 0, 0])], inputs: x)["y"], "[n,1,2,2]")
        XCTAssertEqual(try TG.infer([pool(1, [0, 0, 0, 0])], inputs: x)["y"], "[n,1,3,3]")
        // Kernel 2, stride 2, pad 1 on 5: ceil((5+2-2)/2)+1 = 4, but the 4th window would start in the end pad.
        let p = TG.node("AveragePool", ["x"], ["y"], [TG.ints("kernel_shape", [2]), TG.ints("strides", [2]),
                                                      TG.int("ceil_mode", 1), TG.ints("pads", [1, 1])])
        XCTAssertEqual(try TG.infer([p], inputs: [TG.input("x", [1, 1, 5])])["y"], "[1,1,3]")
        let types = try TG.model([pool(0, [0, 0, 0, 0])], inputs: x).inferShapes()
        XCTAssertEqual(types["i"]?.elementType, .int64)
        let global = TG.node("GlobalAveragePool", ["x"], ["g"])
        XCTAssertEqual(try TG.infer([global], inputs: x)["g"], "[n,1,1,1]")
    }

    func testConvTransposeWithOutputPadding() throws {
        // 2·(5-1) + 1 + ((3-1)·1+1) - 1 - 1 = 10
        let attrs = [TG.ints("strides", [2, 2]), TG.ints("pads", [1, 1, 1, 1]), TG.ints("output_padding", [1, 1])]
        let s = try TG.infer([TG.node("ConvTranspose", ["x", "w"], ["y"], attrs)],
                             inputs: [TG.input("x", ["b", 4, 5, 5])], initializers: [TG.weight("w", [4, 2, 3, 3])])
        XCTAssertEqual(s["y"], "[b,2,10,10]")
        let grouped = try TG.infer([TG.node("ConvTranspose", ["x", "w"], ["y"], [TG.int("group", 2)])],
                                   inputs: [TG.input("x", [1, 4, 5, 5])], initializers: [TG.weight("w", [4, 3, 3, 3])])
        XCTAssertEqual(grouped["y"], "[1,6,7,7]")
        let explicit = try TG.infer([TG.node("ConvTranspose", ["x", "w"], ["y"], [TG.ints("output_shape", [11, 12])])],
                                    inputs: [TG.input("x", [1, 4, 5, 5])], initializers: [TG.weight("w", [4, 2, 3, 3])])
        XCTAssertEqual(explicit["y"], "[1,2,11,12]")
    }

    func testGemmTransposes() throws {
        let s = try TG.infer([TG.node("Gemm", ["x", "w", "b"], ["y"], [TG.int("transB", 1)])],
                             inputs: [TG.input("x", ["batch", 800])],
                             initializers: [TG.weight("w", [500, 800]), TG.weight("b", [500])])
        XCTAssertEqual(s["y"], "[batch,500]")
        let t = try TG.infer([TG.node("Gemm", ["x", "w"], ["y"], [TG.int("transA", 1)])],
                             inputs: [TG.input("x", [7, 3])], initializers: [TG.weight("w", [7, 2])])
        XCTAssertEqual(t["y"], "[3,2]")
        assertError(try TG.infer([TG.node("Gemm", ["x", "w"], ["y"], name: "fc")], inputs: [TG.input("x", [2, 800])],
                                 initializers: [TG.weight("w", [500, 800])]),
                    contains: ["node 'fc' (Gemm)", "inner"])
        assertError(try TG.infer([TG.node("Gemm", ["x", "w", "c"], ["y"])], inputs: [TG.input("x", [2, 3])],
                                 initializers: [TG.weight("w", [3, 4]), TG.weight("c", [5])]),
                    contains: ["broadcast"])
    }

    func testMatMulBroadcasting() throws {
        let mm = [TG.node("MatMul", ["a", "b"], ["y"])]
        func run(_ a: [Any], _ b: [Any]) throws -> String? {
            try TG.infer(mm, inputs: [TG.input("a", a), TG.input("b", b)])["y"]
        }
        XCTAssertEqual(try run([2, 1, 3, 4], [5, 4, 6]), "[2,5,3,6]")
        XCTAssertEqual(try run([4], [4, 6]), "[6]")
        XCTAssertEqual(try run([3, 4], [4]), "[3]")
        XCTAssertEqual(try run(["batch", 16, 64], [64, 32]), "[batch,16,32]")
        assertError(try run([3, 4], [5, 6]), contains: ["inner"])
        assertError(try run([2, 3, 4], [3, 4, 6]), contains: ["batch dimensions"])
    }

    func testNormalisation() throws {
        let bn = TG.node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name: "bn")
        let p = ["s", "b", "m", "v"].map { TG.weight($0, [16]) }
        XCTAssertEqual(try TG.infer([bn], inputs: [TG.input("x", ["n", 16, 4, 4])], initializers: p)["y"], "[n,16,4,4]")
        assertError(try TG.infer([bn], inputs: [TG.input("x", ["n", 8, 4, 4])], initializers: p),
                    contains: ["node 'bn'", "8 channels"])
        let ln = TG.node("LayerNormalization", ["x", "s"], ["y", "mean", "inv"], [TG.int("axis", -1)])
        let s = try TG.infer([ln], inputs: [TG.input("x", ["n", 10, 32])], initializers: [TG.weight("s", [32])])
        XCTAssertEqual(s["y"], "[n,10,32]")
        XCTAssertEqual(s["mean"], "[n,10,1]")
    }

    func testElementwiseBroadcastingAndActivations() throws {
        let nodes = [TG.node("Add", ["a", "b"], ["s"]), TG.node("Relu", ["s"], ["r"]),
                     TG.node("Sum", ["a", "b", "c"], ["t"]), TG.node("PRelu", ["r", "slope"], ["p"]),
                     TG.node("Softmax", ["r"], ["sm"], [TG.int("axis", 1)])]
        let s = try TG.infer(nodes, inputs: [TG.input("a", ["n", 3, 1, 5]), TG.input("b", [4, 1]), TG.input("c", [5])],
                             initializers: [TG.weight("slope", [3, 1, 1])])
        XCTAssertEqual(s["s"], "[n,3,4,5]")
        XCTAssertEqual(s["r"], "[n,3,4,5]")
        XCTAssertEqual(s["t"], "[n,3,4,5]")
        XCTAssertEqual(s["p"], "[n,3,4,5]")
        XCTAssertEqual(s["sm"], "[n,3,4,5]")
        assertError(try TG.infer([TG.node("Mul", ["a", "b"], ["y"], name: "m")],
                                 inputs: [TG.input("a", [2, 3]), TG.input("b", [4])]),
                    contains: ["node 'm' (Mul)", "broadcast"])
        assertError(try TG.infer([TG.node("Softmax", ["a"], ["y"], [TG.int("axis", 4)])],
                                 inputs: [TG.input("a", [2, 3])]), contains: ["axis 4"])
    }

    func testUnknownOpsAndControlFlowAreUnknownNotErrors() throws {
        let nodes = [TG.node("FancyOp", ["x"], ["a"]), TG.node("Relu", ["a"], ["b"]),
                     TG.node("If", ["cond"], ["c"]), Node(opType: "Conv", domain: "com.vendor", inputs: ["x"], outputs: ["d"])]
        let s = try TG.infer(nodes, inputs: [TG.input("x", [1, 2]), TG.input("cond", [], type: .bool)],
                             valueInfo: [TG.input("c", ["k", 3])])
        XCTAssertNil(s["a"])
        XCTAssertNil(s["b"])
        XCTAssertNil(s["d"])
        XCTAssertEqual(s["c"], "[k,3]")
    }

    func testDeclaredValueInfoFillsUnknownDims() throws {
        let nodes = [TG.node("Reshape", ["x", "shape"], ["y"])]
        let s = try TG.infer(nodes, inputs: [TG.input("x", [2, 6]), TG.input("shape", [2], type: .int64)],
                             valueInfo: [TG.input("y", [3, 4])])
        XCTAssertEqual(s["y"], "[3,4]")
    }
}

extension ShapeInferenceTests {
    /// Opset 6 PRelu applies a [C] slope along the channel axis; from opset 7 it broadcasts numpy-style.
    func testLegacyPReluSlopeAlongChannels() throws {
        func graph() -> Graph {
            Graph(nodes: [Node(name: "p", opType: "PRelu", inputs: ["x", "s"], outputs: ["y"])],
                  inputs: [ValueInfo(name: "x", tensor: TensorType(.float, Shape(fixed: [2, 3, 4])))],
                  outputs: [ValueInfo(name: "y")],
                  initializers: [Tensor(name: "s", floats: [0.1, 0.2, 0.3], dims: [3])])
        }
        XCTAssertEqual(try graph().inferShapes(opset: 6)["y"]?.shape, Shape(fixed: [2, 3, 4]))
        XCTAssertThrowsError(try graph().inferShapes(opset: 7))
    }
}
