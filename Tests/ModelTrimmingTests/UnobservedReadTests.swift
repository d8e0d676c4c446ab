import ModelIR
import ModelRuntime
@testable import ModelTrimming
import XCTest

/// A group is judged by its observation points only when every value a layer reads from it lies
/// behind one: MobileNetV3's first block adds an unobserved linear projection to the stem's
/// activation, so a channel dead at the activation is alive where the next layer reads the sum.
final class UnobservedReadTests: XCTestCase {
    /// conv1 → Relu r1 → (r1 + proj(r1)) → [Relu r2 →] conv2; channel 1 dead in conv1 (and in
    /// proj with `deadProjection`).
    static func residual(reluAfterAdd: Bool, deadProjection: Bool) -> Model {
        var b = Builder()
        let c1 = b.conv("conv1", "x", cin: 3, cout: 4, k: 1, dead: [1])
        let r1 = b.relu(c1, "r1")
        let p = b.conv("proj", r1, cin: 4, cout: 4, k: 1, dead: deadProjection ? [1] : [])
        b.add("Add", [r1, p], "sum")
        let read = reluAfterAdd ? b.relu("sum", "r2") : "sum"
        _ = b.conv("conv2", read, cin: 4, cout: 3, k: 1)
        return b.model(input: [2, 3, 5, 5], outputs: ["conv2"])
    }

    func testUnobservedSumKeepsTheGroup() throws {
        let model = Self.residual(reluAfterAdd: false, deadProjection: false)
        let x = try randomInput([2, 3, 5, 5])
        let (_, stats) = try execute(model, x, observe: ["r1"])
        XCTAssertEqual(stats["r1"]?.apoz[1], 1)
        let plan = try Trimmer.trim(model, statistics: stats, options: TrimOptions(criterion: .threshold(0.99), layers: .all),
                                    dryRun: true).plan
        let g = try XCTUnwrap(plan.groups.first { $0.layers.contains("conv1") })
        XCTAssertEqual(Set(g.layers), ["conv1", "proj"])
        XCTAssertEqual(g.removed, [])
        XCTAssertTrue(g.group.barriers.contains { $0.contains("conv2") && $0.contains("'sum'") }, "\(g.group.barriers)")
        // Naming the layer says why.
        XCTAssertThrowsError(try Trimmer.trim(model, statistics: stats,
                                              options: TrimOptions(criterion: .threshold(0.99), layers: .named(["conv1"])))) {
            XCTAssertTrue("\($0)".contains("no observation point covers"), "\($0)")
        }
    }

    /// Global pooling by ReduceMean before a Gemm (MNASNet, ShuffleNet) keeps the ReLU's coverage.
    func testReduceMeanKeepsCoverage() throws {
        var b = Builder()
        let c1 = b.conv("conv1", "x", cin: 3, cout: 4, k: 1, dead: [2])
        _ = b.relu(c1, "r1")
        b.add("ReduceMean", ["r1"], "pooled", [Attribute("axes", .ints([2, 3])), Attribute("keepdims", .int(0))])
        b.weight("fc.w", [5, 4])
        b.add("Gemm", ["pooled", "fc.w"], "fc", [Attribute("transB", .int(1))])
        let model = b.model(input: [2, 3, 5, 5], outputs: ["fc"])
        let x = try randomInput([2, 3, 5, 5])
        let (_, stats) = try execute(model, x, observe: ["r1"])
        let plan = try Trimmer.trim(model, statistics: stats, options: TrimOptions(criterion: .threshold(0.99), layers: .all),
                                    dryRun: true).plan
        let g = try XCTUnwrap(plan.groups.first { $0.layers == ["conv1"] })
        XCTAssertEqual(g.group.barriers, [])
        XCTAssertEqual(g.removed, [2])
    }

    func testObservedSumIsTrimmed() throws {
        let model = Self.residual(reluAfterAdd: true, deadProjection: true)
        let x = try randomInput([2, 3, 5, 5])
        let (before, stats) = try execute(model, x, observe: ["r1", "r2"])
        let (plan, result) = try Trimmer.trim(model, statistics: stats, options: TrimOptions(criterion: .threshold(0.99), layers: .all))
        XCTAssertEqual(plan.groups.first { $0.layers.contains("conv1") }?.removed, [1])
        let after = try execute(try XCTUnwrap(result).model, x).out
        XCTAssertLessThanOrEqual(maxDifference(before["conv2"]!, after["conv2"]!), 1e-5)
    }
}
