import Foundation
import XCTest
import ModelIR
import ModelRuntime
@testable import ModelPipeline

final class ApozStatisticsTests: XCTestCase {
    func tensor(_ name: String = "y", zeros: [UInt64], positions: [UInt64]) -> TensorStatistics {
        TensorStatistics(point: ObservationPoint(tensor: name, node: "r", op: "Relu", producers: [.init(name: "conv", op: "Conv")]),
                         zeros: zeros, positions: positions, nonFinite: zeros.map { _ in 0 },
                         sums: zeros.map { Double($0) / 2 }, sumsOfSquares: zeros.map { Double($0) })
    }

    func run(_ first: Int, _ count: Int, data: String = "x.npy") -> ApozStatistics.Run {
        ApozStatistics.Run(data: data, datasetSamples: 100, first: first, count: count, limit: nil, shard: nil,
                           preprocessing: "layout nchw", samplesWithNonFiniteInput: 0)
    }

    func testMergeAddsCountsExactly() throws {
        let big = UInt64(1) << 60
        let a = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(0, 50)],
                               tensors: [tensor(zeros: [big, 1], positions: [big + 5, 10])])
        let b = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(50, 50)],
                               tensors: [tensor(zeros: [3, 0], positions: [5, 10])])
        let m = try a.merged([b], names: ["a.json", "b.json"])
        XCTAssertEqual(m.samples, 100)
        XCTAssertEqual(m.runs.count, 2)
        XCTAssertEqual(m.tensors[0].zeros, [big + 3, 1])
        XCTAssertEqual(m.tensors[0].positions, [big + 10, 20])
        XCTAssertEqual(m.tensors[0].sums, [Double(big) / 2 + 1.5, 0.5])
    }

    func testMergeRefusesOtherModelsTensorsAndOverlaps() throws {
        let a = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(0, 50)],
                               tensors: [tensor(zeros: [1], positions: [2])])
        var other = a
        other.fingerprint = "sha256:b"
        other.runs = [run(50, 50)]
        XCTAssertThrowsError(try a.merged([other], names: ["a.json", "b.json"])) { error in
            XCTAssertTrue((error as? StatisticsError)?.message.hasPrefix("b.json was collected on a different model than a.json") == true, "\(error)")
        }
        var renamed = a
        renamed.runs = [run(50, 50)]
        renamed.tensors = [tensor("z", zeros: [1], positions: [2])]
        XCTAssertThrowsError(try a.merged([renamed], names: ["a.json", "b.json"])) { error in
            XCTAssertEqual((error as? StatisticsError)?.message, "b.json observes tensors [z] but a.json observes [y]")
        }
        var wider = a
        wider.runs = [run(50, 50)]
        wider.tensors = [tensor(zeros: [1, 1], positions: [2, 2])]
        XCTAssertThrowsError(try a.merged([wider], names: ["a.json", "b.json"]))
        XCTAssertThrowsError(try a.merged([a], names: ["a.json", "a.json"])) { error in
            XCTAssertTrue((error as? StatisticsError)?.message.contains("each shard must be merged once") == true)
        }
        var overflow = a
        overflow.runs = [run(50, 50)]
        overflow.tensors = [tensor(zeros: [UInt64.max], positions: [UInt64.max])]
        XCTAssertThrowsError(try a.merged([overflow], names: ["a.json", "b.json"]))
    }

    func testJSONRoundTripKeepsEveryCount() throws {
        let stats = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(0, 3)],
                                   tensors: [tensor(zeros: [UInt64.max - 1, 0, 7], positions: [UInt64.max, 1, 8])])
        var withSums = stats
        withSums.tensors[0].sums = [0.1, 1e300, 123456.789012345]
        let decoded = try ApozStatistics.decode(try withSums.encoded(), file: "s.json")
        XCTAssertEqual(decoded, withSums)
    }

    func testBadFilesGetOneLineErrors() throws {
        XCTAssertThrowsError(try ApozStatistics.decode(Data("{".utf8), file: "s.json")) { error in
            XCTAssertEqual((error as? StatisticsError)?.message, "s.json: not a modeltool APoZ statistics file (invalid JSON)")
        }
        XCTAssertThrowsError(try ApozStatistics.decode(Data("{\"format\": \"x\"}".utf8), file: "s.json")) { error in
            XCTAssertTrue((error as? StatisticsError)?.message.hasPrefix("s.json: not a modeltool APoZ statistics file (missing") == true, "\(error)")
        }
        var stats = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(0, 3)],
                                   tensors: [tensor(zeros: [1, 2], positions: [2, 2])])
        stats.tensors[0].zeros = [5, 1]
        XCTAssertThrowsError(try ApozStatistics.decode(try stats.encoded(), file: "s.json")) { error in
            XCTAssertEqual((error as? StatisticsError)?.message, "s.json: tensor 'y' channel 0 counts more zeros or non-finite values than positions")
        }
        stats.tensors[0].zeros = [1]
        XCTAssertThrowsError(try ApozStatistics.decode(try stats.encoded(), file: "s.json"))
        stats.tensors[0].zeros = [1, 1]
        stats.version = 99
        XCTAssertThrowsError(try ApozStatistics.decode(try stats.encoded(), file: "s.json")) { error in
            XCTAssertEqual((error as? StatisticsError)?.message, "s.json: format version 99 is not supported (this modeltool reads version 1)")
        }
    }

    func testSummaryFollowsThePapersCriterion() {
        let s = ApozSummary(apoz: [0.1, 0.2, 0.3, 0.4, 1.0])
        XCTAssertEqual(s.mean, 0.4, accuracy: 1e-12)
        XCTAssertEqual(s.std, (0.09 + 0.04 + 0.01 + 0 + 0.36).squareRoot() / 5.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.min, 0.1)
        XCTAssertEqual(s.max, 1.0)
        XCTAssertEqual(s.aboveMeanPlusStd, 1)
        XCTAssertEqual(ApozSummary(apoz: [0.5, 0.5]).aboveMeanPlusStd, 0)
    }

    func testSHA256KnownAnswers() {
        func digest(_ s: String) -> String {
            var h = SHA256()
            h.update(Array(s.utf8))
            return h.finalize()
        }
        XCTAssertEqual(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Fed in uneven pieces.
        var h = SHA256()
        let bytes = Array(String(repeating: "a", count: 1000).utf8)
        for start in stride(from: 0, to: 1000, by: 37) { h.update(Array(bytes[start..<min(1000, start + 37)])) }
        XCTAssertEqual(h.finalize(), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func testFingerprintFollowsGraphAndWeightsNotMetadata() {
        let nodes = [Node(name: "r", opType: "Relu", inputs: ["x"], outputs: ["y"])]
        let base = apozModel(nodes, outputs: ["y"], initializers: [Tensor(name: "w", floats: [1, 2], dims: [2])])
        var renamedProducer = base
        renamedProducer.producerName = "someone else"
        renamedProducer.docString = "docs"
        XCTAssertEqual(ModelFingerprint.of(base), ModelFingerprint.of(renamedProducer))
        var changedWeight = base
        changedWeight.graph.initializers = [Tensor(name: "w", floats: [1, 2.0000002], dims: [2])]
        XCTAssertNotEqual(ModelFingerprint.of(base), ModelFingerprint.of(changedWeight))
        var changedAttribute = base
        changedAttribute.graph.nodes[0].attributes = [Attribute("alpha", .float(0.1))]
        XCTAssertNotEqual(ModelFingerprint.of(base), ModelFingerprint.of(changedAttribute))
        XCTAssertTrue(ModelFingerprint.of(base).hasPrefix("sha256:"))
        XCTAssertEqual(ModelFingerprint.of(base).count, 7 + 64)
    }

    func offRegion(zeros: [UInt64], positions: [UInt64]) -> TensorStatistics {
        let point = ObservationPoint(tensor: "y", node: "silu", op: "Mul", producers: [.init(name: "conv", op: "Conv")], input: "c")
        return TensorStatistics(point: point, zeros: zeros, positions: positions, nonFinite: zeros.map { _ in 0 },
                                sums: zeros.map { _ in 0 }, sumsOfSquares: zeros.map { _ in 0 })
    }

    func testOffRegionIsNamedInTheFileAndOldFilesReadAsZeros() throws {
        let stats = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(0, 50)],
                                   tensors: [tensor(zeros: [1], positions: [2]), offRegion(zeros: [2], positions: [2])])
        let text = String(decoding: try stats.encoded(), as: UTF8.self)
        XCTAssertTrue(text.contains("\"region\" : \"nonPositive\""), text)
        XCTAssertTrue(text.contains("\"input\" : \"c\""), text)
        let back = try ApozStatistics.decode(Data(text.utf8), file: "s.json")
        XCTAssertEqual(back, stats)
        XCTAssertEqual(back.tensors.map(\.countedRegion), [.zeros, .nonPositive])
        // A file written before off regions existed has no "region": it counted zeros.
        let old = text.replacingOccurrences(of: "\"region\" : \"zeros\",", with: "")
        XCTAssertNotEqual(old, text)
        XCTAssertEqual(try ApozStatistics.decode(Data(old.utf8), file: "old.json").tensors[0].countedRegion, .zeros)
        // An off region without its input is refused.
        let orphan = text.replacingOccurrences(of: "\"input\" : \"c\",", with: "")
        XCTAssertThrowsError(try ApozStatistics.decode(Data(orphan.utf8), file: "o.json")) { error in
            XCTAssertEqual((error as? StatisticsError)?.message,
                           "o.json: tensor 'y' counts the off region (nonPositive) but names no 'input'")
        }
    }

    func testMergeRefusesADifferentRegion() throws {
        let a = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(0, 50)],
                               tensors: [tensor(zeros: [1], positions: [2])])
        let b = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(50, 50)],
                               tensors: [offRegion(zeros: [1], positions: [2])])
        XCTAssertThrowsError(try a.merged([b], names: ["a.json", "b.json"])) { error in
            XCTAssertEqual((error as? StatisticsError)?.message,
                           "b.json: tensor 'y' counts nonPositive of 'c', a.json zeros of 'y'")
        }
    }

    /// Channels counted along the last axis (a MatMul's hidden layer) do not add to axis-1 counts;
    /// the flag survives the JSON round trip and is absent for axis 1.
    func testMergeRefusesAnotherChannelAxisAndTheFlagRoundTrips() throws {
        var last = tensor(zeros: [1], positions: [2])
        last.channelsLast = true
        let a = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(0, 50)],
                               tensors: [tensor(zeros: [1], positions: [2])])
        let b = ApozStatistics(fingerprint: "sha256:a", modelFile: "m.onnx", runs: [run(50, 50)], tensors: [last])
        XCTAssertThrowsError(try a.merged([b], names: ["a.json", "b.json"])) { error in
            XCTAssertEqual((error as? StatisticsError)?.message,
                           "b.json: tensor 'y' counts channels along the last axis, a.json along axis 1")
        }
        XCTAssertEqual(try ApozStatistics.decode(try b.encoded(), file: "b.json").tensors[0].channelsLast, true)
        XCTAssertFalse(String(decoding: try a.encoded(), as: UTF8.self).contains("channelsLast"))
    }
}
