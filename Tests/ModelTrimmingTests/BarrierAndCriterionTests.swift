import ModelIR
import ModelRuntime
@testable import ModelTrimming
import XCTest

final class BarrierAndCriterionTests: XCTestCase {
    func conv1Group(_ analysis: ChannelAnalysis) throws -> ChannelGroup {
        try XCTUnwrap(analysis.groups.first { $0.producers == ["conv1"] })
    }

    func testBarriersAreReportedWithReasons() throws {
        let cases: [(String, (inout Builder) -> String, String)] = [
            ("LRN", { b in b.add("LRN", ["r1"], "y", [Attribute("size", .int(3))]); return "y" }, "LRN normalises across channels"),
            ("Softmax", { b in b.add("Softmax", ["r1"], "y", [Attribute("axis", .int(1))]); return "y" }, "Softmax over the channel axis"),
            ("shuffle", { b in
                b.add("Reshape", ["r1", b.ints("s1", [1, 2, 2, 3, 3])], "g")
                b.add("Transpose", ["g"], "gt", [Attribute("perm", .ints([0, 2, 1, 3, 4]))])
                return "gt"
            }, "mixes channels"),
            ("output", { _ in "r1" }, "graph output 'r1'"),
            ("custom", { b in b.nodes.append(Node(name: "odd", opType: "Mystery", domain: "x.y", inputs: ["r1"], outputs: ["y"])); return "y" }, "no channel rule"),
        ]
        for (label, tail, reason) in cases {
            var b = Builder()
            _ = b.relu(b.conv("conv1", "x", cin: 2, cout: 4), "r1")
            let out = tail(&b)
            let model = b.model(input: [1, 2, 5, 5], outputs: [out])
            let analysis = try ChannelAnalysis(model: model)
            let g = try conv1Group(analysis)
            XCTAssertFalse(g.isPrunable, label)
            XCTAssertTrue(g.barriers.contains { $0.contains(reason) }, "\(label): \(g.barriers)")
            let stats = ["r1": ChannelStatistics(apoz: [0.9, 0.1, 0.1, 0.1], mean: [0, 1, 1, 1])]
            XCTAssertThrowsError(try TrimPlan(analysis: analysis, statistics: stats, options: TrimOptions(layers: .named(["conv1"]))), label)
            // The default selection skips it instead.
            XCTAssertTrue(try TrimPlan(analysis: analysis, statistics: stats).removed.isEmpty, label)
        }
    }

    func testAllowOutputChangeLiftsTheOutputBarrier() throws {
        var b = Builder()
        _ = b.relu(b.conv("conv1", "x", cin: 2, cout: 4), "r1")
        let model = b.model(input: [1, 2, 5, 5], outputs: ["r1"])
        let stats = ["r1": ChannelStatistics(apoz: [0.9, 0.1, 0.1, 0.1], mean: [0, 1, 1, 1])]
        let (_, result) = try Trimmer.trim(model, statistics: stats, options: TrimOptions(criterion: .threshold(0.5), allowOutputChange: true))
        let out = try XCTUnwrap(result).model
        XCTAssertEqual(out.graph.outputs[0].tensorType?.shape, Shape(fixed: [1, 3, 3, 3]))
        XCTAssertEqual(try execute(out, try randomInput([1, 2, 5, 5])).out["r1"]?.count, 27)
    }

    /// No group ever loses every channel, and minKeep holds.
    func testNoGroupIsEmptied() throws {
        let scores: [Double?] = [1, 1, 1, 1, 1]
        XCTAssertEqual(TrimCriterion.ratio(1).select(scores: scores, minKeep: 0).removed.count, 4)
        XCTAssertEqual(TrimCriterion.threshold(0).select(scores: scores, minKeep: 3).removed.count, 2)
        var b = Builder()
        _ = b.relu(b.conv("conv1", "x", cin: 2, cout: 3, dead: [0, 1, 2]), "r1")
        _ = b.conv("conv2", "r1", cin: 3, cout: 2)
        let model = b.model(input: [1, 2, 5, 5], outputs: ["conv2"])
        let x = try randomInput([1, 2, 5, 5])
        let stats = try execute(model, x, observe: ["r1"]).stats
        let result = try XCTUnwrap(Trimmer.trim(model, statistics: stats, options: TrimOptions(criterion: .threshold(0.5), minKeep: 0)).result)
        XCTAssertEqual(result.model.initializer("conv1.w")?.dims, [1, 2, 3, 3])
        XCTAssertLessThanOrEqual(maxDifference(try execute(model, x).out["conv2"]!, try execute(result.model, x).out["conv2"]!), 1e-5)
    }

    /// The channels removed equal an independent computation of each criterion.
    func testCriteriaMatchAnIndependentComputation() throws {
        var rng = LCG(11)
        for trial in 0..<50 {
            let n = 4 + trial % 13
            let scores = (0..<n).map { _ in Double(rng.next() * 0.5 + 0.5) }
            let mean = scores.reduce(0, +) / Double(n)
            let std = (scores.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
            for k in [0.5, 1.0, 2.0] {
                let expected = scores.indices.filter { scores[$0] > mean + k * std }
                XCTAssertEqual(TrimCriterion.meanPlusStd(k: k).select(scores: scores, minKeep: 1).removed, expected)
            }
            XCTAssertEqual(TrimCriterion.threshold(0.7).select(scores: scores, minKeep: 1).removed, scores.indices.filter { scores[$0] > 0.7 })
            let r = 0.3
            let top = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(Int(r * Double(n)))
            XCTAssertEqual(TrimCriterion.ratio(r).select(scores: scores, minKeep: 1).removed, top.sorted())
        }
    }

    /// The default selection takes the two groups with the highest mean APoZ.
    func testDefaultSelectionTakesTopTwoGroups() throws {
        var b = Builder()
        _ = b.relu(b.conv("c1", "x", cin: 2, cout: 4, pad: 1), "r1")
        _ = b.relu(b.conv("c2", "r1", cin: 4, cout: 4, pad: 1), "r2")
        _ = b.relu(b.conv("c3", "r2", cin: 4, cout: 4, pad: 1), "r3")
        _ = b.conv("c4", "r3", cin: 4, cout: 2)
        let model = b.model(input: [1, 2, 5, 5], outputs: ["c4"])
        let stats = [
            "r1": ChannelStatistics(apoz: [0.1, 0.2, 0.3, 0.9], mean: [1, 1, 1, 0]),
            "r2": ChannelStatistics(apoz: [0.5, 0.6, 0.7, 0.99], mean: [1, 1, 1, 0]),
            "r3": ChannelStatistics(apoz: [0.4, 0.5, 0.6, 0.95], mean: [1, 1, 1, 0]),
        ]
        let plan = try TrimPlan(analysis: try ChannelAnalysis(model: model), statistics: stats)
        XCTAssertEqual(plan.groups.filter(\.selected).flatMap(\.layers).sorted(), ["c2", "c3"])
    }

    /// One Conv's weights read by two nodes (a Keras layer called twice): neither call's channels, nor
    /// the channels feeding them, may go, or the one weight would have to lose two different sets.
    func testWeightsSharedByTwoLayersAreABarrier() throws {
        var b = Builder()
        _ = b.relu(b.conv("c0", "x", cin: 2, cout: 4, pad: 1, dead: [1]), "r0")
        _ = b.relu(b.conv("s", "r0", cin: 4, cout: 4, pad: 1, dead: [2]), "r1")
        b.add("Conv", ["r1", "s.w", "s.b"], "s_1", [Attribute("kernel_shape", .ints([3, 3])), Attribute("pads", .ints([1, 1, 1, 1]))])
        _ = b.relu("s_1", "r2")
        _ = b.conv("head", "r2", cin: 4, cout: 2)
        let model = b.model(input: [1, 2, 6, 6], outputs: ["head"])
        let analysis = try ChannelAnalysis(model: model)
        let reason = "weights 's.w' shared by 2 layers (s, s_1)"
        for producer in ["c0", "s", "s_1"] {
            let g = try XCTUnwrap(analysis.groups.first { $0.producers.contains(producer) }, producer)
            XCTAssertTrue(g.barriers.contains(reason), "\(producer): \(g.barriers)")
        }
        let head = try XCTUnwrap(analysis.groups.first { $0.producers == ["head"] })
        XCTAssertFalse(head.barriers.contains(reason))
        let stats = ["r0": ChannelStatistics(apoz: [0, 1, 0, 0], mean: [1, 0, 1, 1]),
                     "r1": ChannelStatistics(apoz: [0, 0, 1, 0], mean: [1, 1, 0, 1])]
        XCTAssertTrue(try TrimPlan(analysis: analysis, statistics: stats).removed.isEmpty)
        XCTAssertThrowsError(try TrimPlan(analysis: analysis, statistics: stats, options: TrimOptions(layers: .named(["s"]))))
    }
}
