import ModelIR
import ModelRuntime
@testable import ModelTrimming
import XCTest

/// Networks without ReLU trim by the off region: channels planted dead before SiLU and
/// HardSwish (BatchNormalization weight 0, bias −10) are found by the APoZ observer and removed,
/// and compensation folds their (non-zero) mean outputs, so the outputs do not change.
final class OffRegionTrimTests: XCTestCase {
    /// BatchNormalization after `x` with the `dead` channels' scale 0 and bias −10; the others
    /// keep about their input's spread around 0, so that none is off everywhere by chance.
    func batchNorm(_ b: inout Builder, _ name: String, _ x: String, channels: Int, dead: [Int]) -> String {
        b.weight("\(name).scale", [channels]) { v in for c in v.indices { v[c] = dead.contains(c) ? 0 : 1 + v[c] } }
        b.weight("\(name).bias", [channels]) { v in for c in dead { v[c] = -10 } }
        b.weight("\(name).mean", [channels], scale: 0.05)
        b.weight("\(name).var", [channels]) { v in for i in v.indices { v[i] = abs(v[i]) + 0.5 } }
        b.add("BatchNormalization", [x, "\(name).scale", "\(name).bias", "\(name).mean", "\(name).var"], name)
        return name
    }

    /// conv1 (pad 1) → BN (2 and 5 dead) → x·Sigmoid(x) → conv2 (no padding, so the folded means
    /// are exact everywhere) → BN (1 dead) → HardSwish → conv3 (1×1).
    func siluNet() -> Model {
        var b = Builder()
        let c1 = b.conv("conv1", "x", cin: 3, cout: 8, pad: 1)
        let n1 = batchNorm(&b, "bn1", c1, channels: 8, dead: [2, 5])
        b.add("Sigmoid", [n1], "sig1")
        b.add("Mul", [n1, "sig1"], "silu1")
        let c2 = b.conv("conv2", "silu1", cin: 8, cout: 6)
        let n2 = batchNorm(&b, "bn2", c2, channels: 6, dead: [1])
        b.add("HardSwish", [n2], "hswish2")
        _ = b.conv("conv3", "hswish2", cin: 6, cout: 4, k: 1)
        return b.model(input: [4, 3, 9, 9], outputs: ["conv3"], opset: 17)
    }

    func testPlantedDeadChannelsBeforeSiLUAndHardSwishAreRemovedWithOutputsUnchanged() throws {
        let model = siluNet()
        let x = try randomInput([4, 3, 9, 9])
        let points = try ObservationPoints.find(in: model)
        XCTAssertEqual(points.map(\.tensor), ["silu1", "hswish2"])
        XCTAssertEqual(points.map(\.input), ["bn1", "bn2"])
        let interpreter = try Interpreter(model: model, threads: 2)
        let observer = ApozObserver(points: points, threads: 2)
        let before = try interpreter.run(inputs: ["x": x], observer: observer)["conv3"]!.floats
        var stats: [String: ChannelStatistics] = [:]
        for t in try observer.statistics() { stats[t.tensor] = ChannelStatistics(apoz: t.apoz, mean: t.means) }
        XCTAssertEqual(stats["silu1"]?.apoz[2], 1)
        XCTAssertEqual(stats["silu1"]?.apoz[5], 1)
        XCTAssertEqual(stats["hswish2"]?.apoz[1], 1)
        // SiLU(−10) is not 0: the mean folded into conv2's bias is the output's, −10·σ(−10).
        XCTAssertEqual(try XCTUnwrap(stats["silu1"]?.mean[2]), -10 / (1 + exp(10.0)), accuracy: 1e-7)
        XCTAssertEqual(stats["hswish2"]?.mean[1], 0)

        let options = TrimOptions(criterion: .threshold(0.99), layers: .all)
        let (plan, result) = try Trimmer.trim(model, statistics: stats, options: options)
        XCTAssertEqual(plan.groups.first { $0.layers == ["conv1"] }?.removed, [2, 5])
        XCTAssertEqual(plan.groups.first { $0.layers == ["conv2"] }?.removed, [1])
        let trimmed = try XCTUnwrap(result)
        try trimmed.model.graph.verify()
        XCTAssertEqual(trimmed.model.initializer("conv1.w")?.dims, [6, 3, 3, 3])
        XCTAssertEqual(trimmed.model.initializer("conv2.w")?.dims, [5, 6, 3, 3])
        XCTAssertEqual(trimmed.model.initializer("conv3.w")?.dims, [4, 5, 1, 1])
        let after = try execute(trimmed.model, x).out["conv3"]!
        XCTAssertLessThanOrEqual(maxDifference(before, after), 1e-4)

        // Without compensation SiLU's −4.5e-4 per dead channel is lost: the check above can fail.
        var plain = options
        plain.compensate = false
        let uncompensated = try XCTUnwrap(Trimmer.trim(model, statistics: stats, options: plain).result)
        XCTAssertGreaterThan(maxDifference(before, try execute(uncompensated.model, x).out["conv3"]!), 1e-5)
    }

    /// A ConvNeXt block's MLP as PyTorch exports it: conv → Transpose to [N, H, W, C] → MatMul →
    /// bias Add → GELU as 0.5·x·(1 + Erf(x/√2)) → MatMul → Transpose back. Hidden channels 3 and 6
    /// are planted dead (weight column 0, bias −10). `exposing` adds inner tensors as outputs.
    func convNeXtMLP(exposing inner: [String] = []) -> Model {
        var b = Builder()
        let c1 = b.conv("conv1", "x", cin: 3, cout: 6, pad: 1)
        b.add("Transpose", [c1], "nhwc", [Attribute("perm", .ints([0, 2, 3, 1]))])
        b.weight("fc1.w", [6, 8]) { w in for r in 0..<6 { w[r * 8 + 3] = 0; w[r * 8 + 6] = 0 } }
        b.weight("fc1.b", [8]) { v in v[3] = -10; v[6] = -10 }
        b.add("MatMul", ["nhwc", "fc1.w"], "fc1")
        b.add("Add", ["fc1", "fc1.b"], "h")
        b.weight("sqrt2", []) { v in v = [Float(2).squareRoot()] }
        b.weight("one", []) { v in v = [1] }
        b.weight("half", []) { v in v = [0.5] }
        b.add("Div", ["h", "sqrt2"], "scaled")
        b.add("Erf", ["scaled"], "erf")
        b.add("Add", ["erf", "one"], "erf1")
        b.add("Mul", ["h", "erf1"], "gelu0")
        b.add("Mul", ["gelu0", "half"], "gelu")
        b.weight("fc2.w", [8, 6])
        b.add("MatMul", ["gelu", "fc2.w"], "fc2")
        b.add("Transpose", ["fc2"], "out", [Attribute("perm", .ints([0, 3, 1, 2]))])
        return b.model(input: [2, 3, 5, 5], outputs: ["out"] + inner, opset: 17)
    }

    /// The GELU between the two MatMuls is observed along the last axis: its off region (h ≤ 0)
    /// and mean per hidden channel equal a direct count over the [2, 5, 5, 8] tensors; the
    /// planted channels are removed from fc1's columns, its bias and fc2's rows, outputs unchanged.
    func testChannelsLastHiddenLayerOfAMatMulMLPIsObservedAndTrimmed() throws {
        let model = convNeXtMLP(), exposed = convNeXtMLP(exposing: ["h", "gelu"])
        let x = try randomInput([2, 3, 5, 5])
        let points = try ObservationPoints.find(in: exposed)
        XCTAssertEqual(points.map(\.tensor), ["gelu"])
        XCTAssertEqual(points.map(\.input), ["h"])
        XCTAssertEqual(points.map(\.channelsLast), [true])
        XCTAssertEqual(try ObservationPoints.find(in: model), points)
        let interpreter = try Interpreter(model: exposed, threads: 2)
        let observer = ApozObserver(points: points, threads: 2)
        let outputs = try interpreter.run(inputs: ["x": x], observer: observer)
        let statistics = try observer.statistics()
        XCTAssertEqual(statistics.first?.channelsLast, true)
        XCTAssertEqual(statistics.first?.channels, 8)
        // The reference: channel c is element c of every row of the [50, 8] matrices.
        let h = outputs["h"]!.floats, gelu = outputs["gelu"]!.floats
        XCTAssertEqual(outputs["h"]!.shape, [2, 5, 5, 8])
        let rows = 50
        for c in 0..<8 {
            let column = (0..<rows).map { h[$0 * 8 + c] }, values = (0..<rows).map { Double(gelu[$0 * 8 + c]) }
            XCTAssertEqual(statistics[0].zeros[c], UInt64(column.filter { $0 <= 0 }.count), "channel \(c)")
            XCTAssertEqual(statistics[0].positions[c], UInt64(rows))
            XCTAssertEqual(statistics[0].means[c], values.reduce(0, +) / Double(rows), accuracy: 1e-6, "channel \(c)")
        }
        var stats: [String: ChannelStatistics] = [:]
        for t in statistics { stats[t.tensor] = ChannelStatistics(apoz: t.apoz, mean: t.means, channelsLast: t.channelsLast == true) }
        XCTAssertEqual(stats["gelu"]?.apoz[3], 1)
        XCTAssertEqual(stats["gelu"]?.apoz[6], 1)
        XCTAssertEqual(stats["gelu"]?.apoz.filter { $0 == 1 }.count, 2, "only the planted channels are off everywhere")

        let options = TrimOptions(criterion: .threshold(0.99), layers: .all)
        let (plan, result) = try Trimmer.trim(model, statistics: stats, options: options)
        XCTAssertEqual(plan.groups.first { $0.layers == ["fc1"] }?.removed, [3, 6])
        let trimmed = try XCTUnwrap(result)
        try trimmed.model.graph.verify()
        XCTAssertEqual(trimmed.model.initializer("fc1.w")?.dims, [6, 6])
        XCTAssertEqual(trimmed.model.initializer("fc1.b")?.dims, [6])
        XCTAssertEqual(trimmed.model.initializer("fc2.w")?.dims, [6, 6])
        let after = try execute(trimmed.model, x).out["out"]!
        XCTAssertLessThanOrEqual(maxDifference(outputs["out"]!.floats, after), 1e-5)

        // Statistics counted along axis 1 do not describe these channels: they are not used.
        var wrongAxis = stats
        wrongAxis["gelu"]?.channelsLast = false
        let unused = try Trimmer.trim(model, statistics: wrongAxis, options: options)
        XCTAssertEqual(unused.plan.groups.first { $0.layers == ["fc1"] }?.removed, [])
        XCTAssertTrue(unused.plan.notes.contains { $0.reason.contains("counted along axis 1") }, "\(unused.plan.notes)")
    }
}

