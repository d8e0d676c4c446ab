import ModelIR
import ModelRuntime
@testable import ModelTrimming
import XCTest

/// Channels tied by residual Adds, carried through depthwise convolutions, offset by Concat.
final class CouplingTests: XCTestCase {
    func trim(_ model: Model, _ input: [Int], observe: [String], _ options: TrimOptions) throws -> (TrimResult, Float) {
        let x = try randomInput(input)
        let (before, stats) = try execute(model, x, observe: observe)
        let result = try XCTUnwrap(Trimmer.trim(model, statistics: stats, options: options).result)
        try result.model.graph.verify()
        let after = try execute(result.model, x).out
        let diff = before.keys.map { maxDifference(before[$0]!, after[$0]!) }.max() ?? 0
        return (result, diff)
    }

    /// conv1 → relu r1 → conv2 (+ r1) → relu r2 → conv3: conv1 and conv2 form one group. Channel 1
    /// is dead at both observation points and goes; channel 3 is dead at r1 only and stays.
    func testResidualGroupTrimsConsistently() throws {
        var b = Builder()
        let c1 = b.conv("conv1", "x", cin: 2, cout: 5, pad: 1, dead: [1, 3])
        _ = b.relu(c1, "r1")
        let c2 = b.conv("conv2", "r1", cin: 5, cout: 5, pad: 1, dead: [1])
        b.add("Add", [c2, "r1"], "sum")
        _ = b.relu("sum", "r2")
        _ = b.conv("conv3", "r2", cin: 5, cout: 2)
        let model = b.model(input: [2, 2, 6, 6], outputs: ["conv3"])
        let (t, diff) = try trim(model, [2, 2, 6, 6], observe: ["r1", "r2"], TrimOptions(criterion: .threshold(0.99)))
        XCTAssertLessThanOrEqual(diff, 1e-5)
        let g = try XCTUnwrap(t.plan.groups.first { $0.layers.contains("conv1") })
        XCTAssertEqual(Set(g.layers), ["conv1", "conv2"])
        XCTAssertEqual(Set(g.observedTensors), ["r1", "r2"])
        XCTAssertEqual(g.removed, [1])
        XCTAssertEqual(t.model.initializer("conv2.w")?.dims, [4, 4, 3, 3])
        XCTAssertEqual(t.model.initializer("conv3.w")?.dims, [2, 4, 3, 3])
    }

    /// pointwise conv → relu → depthwise conv → relu → pointwise conv: the dead channel goes through
    /// the depthwise conv (filter, bias and group sliced) and is compensated after it.
    func testTrimsThroughDepthwiseConv() throws {
        var b = Builder()
        let c1 = b.conv("pw1", "x", cin: 3, cout: 6, k: 1, dead: [2])
        _ = b.relu(c1, "r1")
        let dw = b.conv("dw", "r1", cin: 6, cout: 6, pad: 1, group: 6)
        _ = b.relu(dw, "r2")
        _ = b.conv("pw2", "r2", cin: 6, cout: 4, k: 1)
        let model = b.model(input: [2, 3, 5, 5], outputs: ["pw2"])
        let (t, diff) = try trim(model, [2, 3, 5, 5], observe: ["r1"], TrimOptions(criterion: .threshold(0.99), layers: .named(["pw1"])))
        XCTAssertLessThanOrEqual(diff, 1e-5)
        XCTAssertEqual(t.plan.groups.first { $0.layers == ["pw1"] }?.removed, [2])
        XCTAssertEqual(t.model.initializer("dw.w")?.dims, [5, 1, 3, 3])
        XCTAssertEqual(t.model.graph.nodes.first { $0.name == "dw" }?.int("group", default: 0), 5)
        XCTAssertEqual(t.model.initializer("pw2.w")?.dims, [4, 5, 1, 1])
    }

    /// Two branches concatenated: trimming branch a slices the consumer at a's offset only.
    func testTrimsOneConcatBranch() throws {
        var b = Builder()
        _ = b.relu(b.conv("a", "x", cin: 3, cout: 4, dead: [0, 3]), "ra")
        _ = b.relu(b.conv("b", "x", cin: 3, cout: 3), "rb")
        b.add("Concat", ["rb", "ra"], "cat", [Attribute("axis", .int(1))])
        _ = b.conv("c", "cat", cin: 7, cout: 2)
        let model = b.model(input: [2, 3, 6, 6], outputs: ["c"])
        let (t, diff) = try trim(model, [2, 3, 6, 6], observe: ["ra", "rb"], TrimOptions(criterion: .threshold(0.99), layers: .named(["a"])))
        XCTAssertLessThanOrEqual(diff, 1e-5)
        XCTAssertEqual(t.plan.groups.first { $0.layers == ["a"] }?.removed, [0, 3])
        XCTAssertEqual(t.plan.groups.first { $0.layers == ["b"] }?.removed, [])
        XCTAssertEqual(t.model.initializer("c.w")?.dims, [2, 5, 3, 3])
    }

    /// Split with sizes gets the kept sizes.
    func testSplitSizesFollowTheChannels() throws {
        var b = Builder()
        _ = b.relu(b.conv("a", "x", cin: 2, cout: 6, dead: [1, 4]), "ra")
        b.nodes.append(Node(name: "split", opType: "Split", inputs: ["ra", b.ints("sizes", [3, 3])], outputs: ["s0", "s1"],
                            attributes: [Attribute("axis", .int(1))]))
        _ = b.conv("c0", "s0", cin: 3, cout: 2)
        _ = b.conv("c1", "s1", cin: 3, cout: 2)
        let model = b.model(input: [1, 2, 5, 5], outputs: ["c0", "c1"])
        let (t, diff) = try trim(model, [1, 2, 5, 5], observe: ["ra"], TrimOptions(criterion: .threshold(0.99)))
        XCTAssertLessThanOrEqual(diff, 1e-5)
        let split = try XCTUnwrap(t.model.graph.nodes.first { $0.name == "split" })
        XCTAssertEqual(try t.model.graph.initializerIndex[split.inputs[1]]?.int64s(), [2, 2])
    }

    /// 300 convolutions (each with a Relu) summed by one Sum node: one group of 300 producers,
    /// tied one by one under a fresh root each time (the case that made `union` quadratic). The
    /// producers are listed in the order the analysis has always given (the last operand first),
    /// and a channel dead in every branch goes from every conv and from the consumer.
    func testHundredsOfProducersTiedByOneSum() throws {
        let n = 300
        var b = Builder()
        for i in 0..<n { _ = b.relu(b.conv("conv\(i)", "x", cin: 2, cout: 4, k: 1, dead: [1]), "r\(i)") }
        b.add("Sum", (0..<n).map { "r\($0)" }, "s")
        _ = b.relu("s", "t")
        _ = b.conv("convy", "t", cin: 4, cout: 2, k: 1)
        let model = b.model(input: [2, 2, 3, 3], outputs: ["convy"])

        let analysis = try ChannelAnalysis(model: model)
        let tied = analysis.groups.filter { !$0.producers.isEmpty && $0.producers != ["convy"] }
        XCTAssertEqual(tied.count, 1)
        let g = try XCTUnwrap(tied.first)
        XCTAssertEqual(g.producers, (0..<n).reversed().map { "conv\($0)" })
        XCTAssertEqual(g.channels, 4)
        XCTAssertTrue(g.isPrunable, "\(g.barriers)")
        XCTAssertEqual(analysis.groups(of: "t"), [g.id])
        XCTAssertEqual(analysis.groups(of: "r0"), [g.id])
        XCTAssertEqual(analysis.groups(of: "r\(n - 1)"), [g.id])

        let (t, diff) = try trim(model, [2, 2, 3, 3], observe: ["t"], TrimOptions(criterion: .threshold(0.99), layers: .named(["conv7"])))
        XCTAssertLessThanOrEqual(diff, 1e-4)
        let plan = try XCTUnwrap(t.plan.groups.first { $0.layers.contains("conv0") })
        XCTAssertEqual(plan.layers.count, n)
        XCTAssertEqual(plan.removed, [1])
        XCTAssertEqual(t.plan.groups.filter { !$0.removed.isEmpty }.count, 1)
        for i in [0, 1, n / 2, n - 1] { XCTAssertEqual(t.model.initializer("conv\(i).w")?.dims, [3, 2, 1, 1], "conv\(i)") }
        XCTAssertEqual(t.model.initializer("convy.w")?.dims, [2, 3, 1, 1])
    }

    /// Barrier reasons found on some branches before the Sum ties them all are merged into the one
    /// group: in the order the analysis has always given, each reason once.
    func testBarriersOfTiedBranchesAreMergedInOrderOnce() throws {
        let n = 200
        var b = Builder()
        for i in 0..<n { _ = b.relu(b.conv("conv\(i)", "x", cin: 2, cout: 4, k: 1), "r\(i)") }
        b.add("LRN", ["r20"], "l20", [Attribute("size", .int(3))])
        // One node without a channel rule reads two branches: the same reason on two groups.
        b.nodes.append(Node(name: "odd", opType: "Mystery", domain: "x.y", inputs: ["r5", "r150"], outputs: ["m"]))
        b.add("Sum", (0..<n).map { "r\($0)" }, "s")
        _ = b.relu("s", "t")
        _ = b.conv("convy", "t", cin: 4, cout: 2, k: 1)
        let model = b.model(input: [1, 2, 3, 3], outputs: ["convy", "l20"])

        let analysis = try ChannelAnalysis(model: model)
        let g = try XCTUnwrap(analysis.groups.first { $0.producers.contains("conv0") })
        XCTAssertEqual(g.producers.count, n)
        XCTAssertEqual(Set(g.producers).count, n)
        XCTAssertFalse(g.isPrunable)
        let odd = "odd (Mystery)"
        XCTAssertEqual(g.barriers.filter { $0.hasPrefix(odd) }.count, 1, "\(g.barriers)")
        XCTAssertEqual(g.barriers.filter { $0.hasPrefix("l20 (LRN)") }.count, 1, "\(g.barriers)")
        XCTAssertEqual(g.barriers.count, 2, "\(g.barriers)")
        // Operands are tied last first, so r150's reason (the Mystery node) precedes r20's.
        XCTAssertTrue(g.barriers[0].hasPrefix(odd), "\(g.barriers)")
        XCTAssertThrowsError(try TrimPlan(analysis: analysis, statistics: ["t": ChannelStatistics(apoz: [1, 0, 0, 0], mean: [0, 1, 1, 1])],
                                          options: TrimOptions(layers: .named(["conv3"]))))
    }
}
