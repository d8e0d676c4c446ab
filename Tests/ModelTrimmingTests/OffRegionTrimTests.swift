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
}
