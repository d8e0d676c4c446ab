import ModelIR
import ModelRuntime
@testable import ModelTrimming
import XCTest

/// Dead channels planted in tiny networks are removed, and the outputs stay the same.
final class PlantedChannelTests: XCTestCase {
    /// Trims `model` with statistics recorded on `observe` and checks the outputs agree to 1e-5.
    @discardableResult
    func trimUnchanged(_ model: Model, input: [Int], observe: [String], options: TrimOptions,
                       stats override: [String: ChannelStatistics]? = nil, tolerance: Float = 1e-5,
                       file: StaticString = #filePath, line: UInt = #line) throws -> TrimResult {
        let x = try randomInput(input)
        let (before, stats) = try execute(model, x, observe: observe)
        let (_, result) = try Trimmer.trim(model, statistics: override ?? stats, options: options)
        let trimmed = try XCTUnwrap(result)
        try trimmed.model.graph.verify()
        let (after, _) = try execute(trimmed.model, x)
        for (name, v) in before {
            XCTAssertLessThanOrEqual(maxDifference(v, after[name]!), tolerance, "output \(name)", file: file, line: line)
        }
        return trimmed
    }

    func testConvReluConv() throws {
        var b = Builder()
        let c1 = b.conv("conv1", "x", cin: 3, cout: 6, dead: [1, 4])
        let r = b.relu(c1, "r1")
        _ = b.conv("conv2", r, cin: 6, cout: 4)
        let model = b.model(input: [2, 3, 7, 7], outputs: ["conv2"])
        let t = try trimUnchanged(model, input: [2, 3, 7, 7], observe: ["r1"], options: TrimOptions())
        let g = try XCTUnwrap(t.plan.groups.first { $0.layers == ["conv1"] })
        XCTAssertEqual(g.removed, [1, 4])
        XCTAssertEqual(t.model.initializer("conv1.w")?.dims, [4, 3, 3, 3])
        XCTAssertEqual(t.model.initializer("conv1.b")?.dims, [4])
        XCTAssertEqual(t.model.initializer("conv2.w")?.dims, [4, 4, 3, 3])
    }

    func testConvReluBatchNormConvNeedsCompensation() throws {
        var b = Builder()
        let c1 = b.conv("conv1", "x", cin: 3, cout: 5, dead: [2])
        let r = b.relu(c1, "r1")
        for p in ["scale", "bias", "mean"] { b.weight("bn.\(p)", [5]) }
        b.weight("bn.var", [5]) { v in for i in v.indices { v[i] = abs(v[i]) + 0.5 } }
        b.add("BatchNormalization", [r, "bn.scale", "bn.bias", "bn.mean", "bn.var"], "bn")
        _ = b.conv("conv2", "bn", cin: 5, cout: 3)
        let model = b.model(input: [2, 3, 7, 7], outputs: ["conv2"])
        let options = TrimOptions(criterion: .threshold(0.99))
        let t = try trimUnchanged(model, input: [2, 3, 7, 7], observe: ["r1"], options: options)
        XCTAssertEqual(t.plan.groups.first { $0.layers == ["conv1"] }?.removed, [2])
        XCTAssertEqual(t.model.initializer("bn.scale")?.dims, [4])
        // Without compensation the BN's constant output for the dead channel is lost.
        var plain = options
        plain.compensate = false
        let x = try randomInput([2, 3, 7, 7])
        let (before, stats) = try execute(model, x, observe: ["r1"])
        let trimmed = try XCTUnwrap(Trimmer.trim(model, statistics: stats, options: plain).result)
        XCTAssertGreaterThan(maxDifference(before["conv2"]!, try execute(trimmed.model, x).out["conv2"]!), 1e-3)
    }

    func testDenseReluDense() throws {
        var b = Builder()
        b.weight("fc1.w", [10, 8]) { w in for i in 0..<8 { w[3 * 8 + i] = 0; w[7 * 8 + i] = 0 } }
        b.weight("fc1.b", [10]) { v in v[3] = -1; v[7] = -1 }
        b.add("Gemm", ["x", "fc1.w", "fc1.b"], "fc1", [Attribute("transB", .int(1))])
        _ = b.relu("fc1", "r1")
        b.weight("fc2.w", [10, 3])
        b.weight("fc2.b", [3])
        b.add("Gemm", ["r1", "fc2.w", "fc2.b"], "fc2")
        let model = b.model(input: [4, 8], outputs: ["fc2"])
        let t = try trimUnchanged(model, input: [4, 8], observe: ["r1"], options: TrimOptions(criterion: .threshold(0.99)))
        XCTAssertEqual(t.plan.groups.first { $0.layers == ["fc1"] }?.removed, [3, 7])
        XCTAssertEqual(t.model.initializer("fc1.w")?.dims, [8, 8])
        XCTAssertEqual(t.model.initializer("fc2.w")?.dims, [8, 3])
    }

    /// A channel that is a nonzero constant (scored as removable by fiat) is folded into a new
    /// Gemm C and into an Add after a MatMul.
    func testConstantChannelCompensatedIntoNewBiases() throws {
        var b = Builder()
        b.weight("fc1.w", [6, 5]) { w in for i in 0..<5 { w[1 * 5 + i] = 0 } }
        b.weight("fc1.b", [6]) { v in v[1] = 0.75 }
        b.add("Gemm", ["x", "fc1.w", "fc1.b"], "fc1", [Attribute("transB", .int(1))])
        _ = b.relu("fc1", "r1")
        b.weight("fc2.w", [4, 6])
        b.add("Gemm", ["r1", "fc2.w"], "fc2", [Attribute("transB", .int(1))])
        b.weight("mm.w", [6, 2])
        b.add("MatMul", ["r1", "mm.w"], "mm")
        let model = b.model(input: [3, 5], outputs: ["fc2", "mm"])
        let x = try randomInput([3, 5])
        let stats = try execute(model, x, observe: ["r1"]).stats["r1"]!
        XCTAssertEqual(stats.mean[1], 0.75, accuracy: 1e-6)
        var apoz = Array(repeating: 0.0, count: 6)
        apoz[1] = 1
        let t = try trimUnchanged(model, input: [3, 5], observe: [], options: TrimOptions(criterion: .threshold(0.5)),
                                  stats: ["r1": ChannelStatistics(apoz: apoz, mean: stats.mean)])
        XCTAssertTrue(t.model.graph.nodes.contains { $0.opType == "Add" })
        XCTAssertEqual(t.model.graph.nodes.first { $0.name == "fc2" }?.inputs.count, 3)
    }

    func testConvReluFlattenDense() throws {
        for form in ["Flatten", "view", "dynamic", "tf2onnx"] {
            var b = Builder()
            let c1 = b.conv("conv1", "x", cin: 3, cout: 4, dead: [2])
            _ = b.relu(c1, "r1")
            switch form {
            case "Flatten": b.add("Flatten", ["r1"], "flat", [Attribute("axis", .int(1))])
            case "view": b.add("Reshape", ["r1", b.ints("shape", [-1, 36])], "flat")
            case "dynamic":
                b.add("Shape", ["r1"], "shp")
                b.add("Gather", ["shp", b.ints("zero", [0])], "n", [Attribute("axis", .int(0))])
                b.add("Concat", ["n", b.ints("rest", [36])], "shape", [Attribute("axis", .int(0))])
                b.add("Reshape", ["r1", "shape"], "flat")
            default:
                b.add("Transpose", ["r1"], "nhwc", [Attribute("perm", .ints([0, 2, 3, 1]))])
                b.add("Reshape", ["nhwc", b.ints("shape", [-1, 36])], "flat")
            }
            if form == "tf2onnx" {
                b.weight("fc.w", [36, 5])
                b.add("MatMul", ["flat", "fc.w"], "fc")
            } else {
                b.weight("fc.w", [5, 36])
                b.add("Gemm", ["flat", "fc.w"], "fc", [Attribute("transB", .int(1))])
            }
            let model = b.model(input: [2, 3, 5, 5], outputs: ["fc"])
            let t = try trimUnchanged(model, input: [2, 3, 5, 5], observe: ["r1"], options: TrimOptions(criterion: .threshold(0.99)))
            XCTAssertEqual(t.plan.groups.first { $0.layers == ["conv1"] }?.removed, [2], form)
            XCTAssertEqual(t.model.initializer("fc.w")?.dims, form == "tf2onnx" ? [27, 5] : [5, 27], form)
            if form == "view" || form == "tf2onnx" { XCTAssertEqual(try t.model.initializer("shape")?.int64s(), [-1, 27], form) }
            if form == "dynamic" { XCTAssertEqual(try t.model.initializer("rest")?.int64s(), [27], form) }
        }
    }
}
