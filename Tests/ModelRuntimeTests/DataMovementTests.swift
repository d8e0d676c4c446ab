import XCTest
import ModelIR
@testable import ModelRuntime

final class DataMovementTests: XCTestCase {
    func testReshapeZeroAndMinusOne() throws {
        XCTAssertEqual(try run1("Reshape", [iota([2, 3, 4]), I([0, -1])]).shape, [2, 12])
        XCTAssertEqual(try run1("Reshape", opset: 4, [iota([2, 3, 4])], [ints("shape", [-1, 4])]).shape, [6, 4])
        XCTAssertThrowsError(try run1("Reshape", opset: 14, [iota([2, 3]), I([0, 6])], [int("allowzero", 1)]))
        XCTAssertThrowsError(try run1("Reshape", [iota([2, 3]), I([-1, -1])]))
        XCTAssertEqual(try run1("Flatten", [iota([2, 3, 4])], [int("axis", 2)]).shape, [6, 4])
        XCTAssertEqual(try run1("Flatten", [iota([2, 3, 4])], [int("axis", 0)]).shape, [1, 24])
    }

    func testSqueezeUnsqueezeAttributeThenInput() throws {
        XCTAssertEqual(try run1("Squeeze", opset: 12, [iota([1, 3, 1])], [ints("axes", [0])]).shape, [3, 1])
        XCTAssertEqual(try run1("Squeeze", opset: 13, [iota([1, 3, 1]), I([-1])]).shape, [1, 3])
        XCTAssertEqual(try run1("Squeeze", opset: 13, [iota([1, 3, 1])]).shape, [3])
        XCTAssertEqual(try run1("Unsqueeze", opset: 12, [iota([3])], [ints("axes", [0, 2])]).shape, [1, 3, 1])
        XCTAssertEqual(try run1("Unsqueeze", opset: 13, [iota([3]), I([-1])]).shape, [3, 1])
        XCTAssertThrowsError(try run1("Squeeze", opset: 13, [iota([2, 3]), I([0])]))
    }

    func testTransposeConcatSplit() throws {
        assertTensor(try run1("Transpose", [iota([2, 3])]), [3, 2], [1, 4, 2, 5, 3, 6])
        assertTensor(try run1("Transpose", [iota([2, 1, 2])], [ints("perm", [2, 0, 1])]), [2, 2, 1], [1, 3, 2, 4])
        assertTensor(try run1("Concat", [iota([2, 1]), T([2, 2], [7, 8, 9, 10])], [int("axis", -1)]), [2, 3], [1, 7, 8, 2, 9, 10])
        let ints64 = try run1("Concat", [I([1]), I([2, 3])], [int("axis", 0)])
        XCTAssertEqual(ints64.elementType, .int64)
        XCTAssertEqual(ints64.int64s, [1, 2, 3])
        let a = try runOp("Split", opset: 12, [iota([5])], [ints("split", [2, 3])], outputs: 2)
        assertTensor(a[0], [2], [1, 2]); assertTensor(a[1], [3], [3, 4, 5])
        let b = try runOp("Split", opset: 13, [iota([2, 4]), I([1, 3])], [int("axis", 1)], outputs: 2)
        assertTensor(b[0], [2, 1], [1, 5]); assertTensor(b[1], [2, 3], [2, 3, 4, 6, 7, 8])
        let c = try runOp("Split", opset: 18, [iota([5])], [int("num_outputs", 2)], outputs: 2)
        assertTensor(c[0], [3], [1, 2, 3]); assertTensor(c[1], [2], [4, 5])
        let d = try runOp("Split", opset: 13, [iota([4])], outputs: 2)
        assertTensor(d[1], [2], [3, 4])
    }

    func testSliceStepsAndOpsetForms() throws {
        let x = iota([10])
        assertTensor(try run1("Slice", [x, I([-1]), I([-1000]), nil, I([-1])]), [10], (1...10).reversed().map(Float.init))
        assertTensor(try run1("Slice", [x, I([8]), I([1]), I([0]), I([-3])]), [3], [9, 6, 3])
        assertTensor(try run1("Slice", [x, I([2]), I([100])]), [8], (3...10).map(Float.init))
        assertTensor(try run1("Slice", opset: 9, [x], [ints("starts", [1]), ints("ends", [3])]), [2], [2, 3])
        assertTensor(try run1("Slice", [iota([2, 4]), I([1]), I([Int64.max]), I([1]), I([2])]), [2, 2], [2, 4, 6, 8])
        XCTAssertEqual(try run1("Slice", [x, I([5]), I([2])]).shape, [0])
        XCTAssertThrowsError(try run1("Slice", [x, I([0]), I([2]), nil, I([0])]))
    }

    func testGatherExpandTile() throws {
        assertTensor(try run1("Gather", [iota([3, 2]), I([2, -3])]), [2, 2], [5, 6, 1, 2])
        assertTensor(try run1("Gather", [iota([3, 2]), try RuntimeTensor(shape: [], int64s: [1])], [int("axis", 1)]), [3], [2, 4, 6])
        XCTAssertThrowsError(try run1("Gather", [iota([3]), I([3])])) { XCTAssertTrue("\($0)".contains("out of range"), "\($0)") }
        assertTensor(try run1("Expand", [iota([3, 1]), I([2, 1, 2])]), [2, 3, 2], [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
        assertTensor(try run1("Tile", [iota([1, 2]), I([2, 2])]), [2, 4], [1, 2, 1, 2, 1, 2, 1, 2])
    }

    func testPadModesAndOpsetForms() throws {
        let x = iota([3])
        assertTensor(try run1("Pad", [x, I([2, 2])], [string("mode", "reflect")]), [7], [3, 2, 1, 2, 3, 2, 1])
        assertTensor(try run1("Pad", [x, I([2, 2])], [string("mode", "edge")]), [7], [1, 1, 1, 2, 3, 3, 3])
        assertTensor(try run1("Pad", [x, I([2, 2]), T([], [9])]), [7], [9, 9, 1, 2, 3, 9, 9])
        assertTensor(try run1("Pad", opset: 2, [x], [ints("pads", [1, 0]), float("value", 5)]), [4], [5, 1, 2, 3])
        assertTensor(try run1("Pad", [x, I([-1, 1])]), [3], [2, 3, 0])
        assertTensor(try run1("Pad", [iota([2, 2]), I([0, 1, 0, 1])], [string("mode", "reflect")]), [2, 4], [2, 1, 2, 1, 4, 3, 4, 3])
        assertTensor(try run1("Pad", opset: 18, [iota([2, 2]), I([1, 0]), nil, I([0])]), [3, 2], [0, 0, 1, 2, 3, 4])
    }

    func testShapeConstantsAndCasts() throws {
        XCTAssertEqual(try run1("Shape", opset: 15, [iota([2, 3, 4])], [int("start", 1)]).int64s, [3, 4])
        XCTAssertEqual(try run1("Shape", opset: 15, [iota([2, 3, 4])], [int("end", -1)]).int64s, [2, 3])
        let c = try run1("ConstantOfShape", [I([2, 2])], [Attribute("value", .tensor(Tensor(int64s: [7], dims: [1])))])
        XCTAssertEqual(c.shape, [2, 2]); XCTAssertEqual(c.int64s, [7, 7, 7, 7])
        assertTensor(try run1("ConstantOfShape", [I([3])]), [3], [0, 0, 0])
        let cast = try run1("Cast", [T([3], [1.7, -1.7, 300])], [int("to", Int64(DataType.uint8.rawValue))])
        XCTAssertEqual(cast.int64s, [1, 255, 44])
        assertTensor(try run1("Cast", [I([2])], [int("to", 1)]), [1], [2])
        assertTensor(try run1("Constant", [], [Attribute("value_floats", .floats([1, 2]))]), [2], [1, 2])
        let dropout = try runOp("Dropout", opset: 12, [iota([2]), T([], [0.5])], outputs: 2)
        assertTensor(dropout[0], [2], [1, 2])
    }

    func testResizeNearestLinearAndCubic() throws {
        let x = iota([1, 1, 2, 2])
        // Opset 10: asymmetric coordinates, floor.
        assertTensor(try run1("Resize", opset: 10, [x, T([4], [1, 1, 2, 2])]), [1, 1, 4, 4],
                     [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        assertTensor(try run1("Upsample", opset: 9, [x, T([4], [1, 1, 1, 2])]), [1, 1, 2, 4], [1, 1, 2, 2, 3, 3, 4, 4])
        assertTensor(try run1("Upsample", opset: 7, [x], [Attribute("scales", .floats([1, 1, 2, 1]))]), [1, 1, 4, 2],
                     [1, 2, 1, 2, 3, 4, 3, 4])
        let row = T([1, 1, 1, 2], [1, 2])
        let linear = [string("mode", "linear")]
        assertTensor(try run1("Resize", opset: 13, [row, nil, nil, I([1, 1, 1, 3])], linear + [string("coordinate_transformation_mode", "align_corners")]),
                     [1, 1, 1, 3], [1, 1.5, 2])
        assertTensor(try run1("Resize", opset: 13, [row, nil, T([4], [1, 1, 1, 2])], linear), [1, 1, 1, 4], [1, 1.25, 1.75, 2])
        assertTensor(try run1("Resize", opset: 13, [row, nil, T([4], [1, 1, 1, 2])], linear + [string("coordinate_transformation_mode", "asymmetric")]),
                     [1, 1, 1, 4], [1, 1.5, 2, 2])
        // Default half_pixel + round_prefer_floor, downsampling by 2: coordinates 0.5 and 2.5.
        assertTensor(try run1("Resize", opset: 13, [iota([1, 1, 1, 4]), nil, nil, I([1, 1, 1, 2])]), [1, 1, 1, 2], [1, 3])
        assertTensor(try run1("Resize", opset: 13, [iota([1, 1, 1, 4]), nil, nil, I([1, 1, 1, 2])], [string("nearest_mode", "ceil")]),
                     [1, 1, 1, 2], [2, 4])
        assertTensor(try run1("Resize", opset: 18, [row, nil, T([1], [2])], [ints("axes", [3]), string("coordinate_transformation_mode", "asymmetric")]),
                     [1, 1, 1, 4], [1, 1, 2, 2])
        // Cubic (a = −0.75), asymmetric ×2: x = o/2, taps clamped at the edges; hand-computed.
        let ramp = T([1, 1, 1, 4], [0, 1, 2, 3])
        assertTensor(try run1("Resize", opset: 13, [ramp, nil, T([4], [1, 1, 1, 2])],
                              [string("mode", "cubic"), string("coordinate_transformation_mode", "asymmetric")]),
                     [1, 1, 1, 8], [0, 0.40625, 1, 1.5, 2, 2.59375, 3, 3.09375])
        XCTAssertThrowsError(try run1("Resize", opset: 13, [row, nil, T([4], [1, 1, 1, 2])], [string("mode", "area")]))
    }
}
