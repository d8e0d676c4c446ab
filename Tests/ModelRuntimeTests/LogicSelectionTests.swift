import XCTest
import ModelIR
@testable import ModelRuntime

/// Comparisons, logic, Where, ArgMax/ArgMin, TopK and Range on hand-checked values.
final class LogicSelectionTests: XCTestCase {
    func testComparisonsBroadcastToInt64Booleans() throws {
        let x = T([2, 3], [0.6, 0.2, 0.5, -1, 0.7, 0.5])
        XCTAssertEqual(try run1("Greater", [x, T([], [0.5])]).int64s, [1, 0, 0, 0, 1, 0])
        XCTAssertEqual(try run1("GreaterOrEqual", [x, T([], [0.5])]).int64s, [1, 0, 1, 0, 1, 1])
        XCTAssertEqual(try run1("Less", [x, T([3], [0.6, 0.3, 0.4])]).int64s, [0, 1, 0, 1, 0, 0])
        XCTAssertEqual(try run1("LessOrEqual", [x, T([2, 1], [0.5, 0.5])]).int64s, [0, 1, 1, 1, 0, 1])
        XCTAssertEqual(try run1("Equal", [I([1, 2, 3]), I([3, 2, 1])]).int64s, [0, 1, 0])
        XCTAssertEqual(try run1("Equal", [T([2], [.nan, 1]), T([2], [.nan, 1])]).int64s, [0, 1])
        XCTAssertThrowsError(try run1("Greater", [x, T([2], [0, 0])]))
    }

    func testLogicAndWhere() throws {
        XCTAssertEqual(try run1("Not", [I([0, 1, 1])]).int64s, [1, 0, 0])
        XCTAssertEqual(try run1("And", [I([0, 1, 1, 0]), I([1, 1, 0, 0])]).int64s, [0, 1, 0, 0])
        XCTAssertEqual(try run1("Or", [I([0, 1, 1, 0]), I([1, 1, 0, 0])]).int64s, [1, 1, 1, 0])
        XCTAssertEqual(try run1("Xor", [I([0, 1, 1, 0]), I([1])]).int64s, [1, 0, 0, 1])
        let c = try RuntimeTensor(shape: [2, 1], int64s: [1, 0])
        assertTensor(try run1("Where", [c, iota([2, 2]), T([], [-1])]), [2, 2], [1, 2, -1, -1])
        let w = try run1("Where", [I([0, 1, 1]), I([7, 8, 9]), I([4])])
        XCTAssertEqual(w.elementType, .int64)
        XCTAssertEqual(w.int64s, [4, 8, 9])
    }

    func testArgMaxArgMinTies() throws {
        let x = T([2, 3], [1, 5, 5, 7, 0, 7])
        let a = try run1("ArgMax", [x], [int("axis", 1)])
        XCTAssertEqual(a.shape, [2, 1])
        XCTAssertEqual(a.int64s, [1, 0])
        XCTAssertEqual(try run1("ArgMax", [x], [int("axis", -1), int("keepdims", 0), int("select_last_index", 1)]).int64s, [2, 2])
        let m = try run1("ArgMin", [x], [int("keepdims", 0)])
        XCTAssertEqual(m.shape, [3])
        XCTAssertEqual(m.int64s, [0, 1, 0])
    }

    func testTopKOrderAndForms() throws {
        let x = T([2, 4], [3, 1, 4, 1, 5, 9, 2, 6])
        let r = try runOp("TopK", [x, I([2])], outputs: 2)
        assertTensor(r[0], [2, 2], [4, 3, 9, 6])
        XCTAssertEqual(r[1].int64s, [2, 0, 1, 3])
        let s = try runOp("TopK", [x, I([3])], [int("largest", 0)], outputs: 2)
        assertTensor(s[0], [2, 3], [1, 1, 3, 2, 5, 6])
        XCTAssertEqual(s[1].int64s, [1, 3, 0, 2, 0, 3], "ties keep index order")
        let t = try runOp("TopK", opset: 9, [x], [int("k", 1), int("axis", 0)], outputs: 2)
        assertTensor(t[0], [1, 4], [5, 9, 4, 6])
        XCTAssertEqual(t[1].int64s, [1, 1, 0, 1])
        XCTAssertThrowsError(try runOp("TopK", [x, I([5])], outputs: 2))
    }

    func testRange() throws {
        func scalar(_ v: Int64) -> RuntimeTensor { try! RuntimeTensor(shape: [], int64s: [v]) }
        XCTAssertEqual(try run1("Range", opset: 11, [scalar(1), scalar(10), scalar(3)]).int64s, [1, 4, 7])
        XCTAssertEqual(try run1("Range", opset: 11, [scalar(10), scalar(4), scalar(-2)]).int64s, [10, 8, 6])
        XCTAssertEqual(try run1("Range", opset: 11, [scalar(5), scalar(1), scalar(1)]).shape, [0])
        assertTensor(try run1("Range", opset: 11, [T([], [0.5]), T([], [2]), T([], [0.5])]), [3], [0.5, 1, 1.5])
        XCTAssertThrowsError(try run1("Range", opset: 11, [scalar(0), scalar(4), scalar(0)]))
    }
}
