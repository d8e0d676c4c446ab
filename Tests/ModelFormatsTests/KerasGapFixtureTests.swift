import Foundation
import ModelIR
import ModelRuntime
import XCTest
import ZIPFoundation

@testable import ModelFormats

/// A float32 array from an uncompressed `np.savez` file (C order, '<f4'), as Keras's outputs were saved.
private func npzArray(_ path: String, _ member: String) throws -> (shape: [Int], values: [Float]) {
    let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
    let entry = try XCTUnwrap(archive[member + ".npy"], "\(path) has no \(member).npy")
    var data = Data()
    _ = try archive.extract(entry) { data.append($0) }
    let bytes = [UInt8](data)
    XCTAssertEqual(Array(bytes.prefix(6)), [0x93] + Array("NUMPY".utf8))
    let major = bytes[6]
    let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
        : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
    let start = major == 1 ? 10 : 12
    let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
    XCTAssertTrue(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"), header)
    let shapeText = try XCTUnwrap(header.range(of: "'shape': (").map { header[$0.upperBound...] }?.prefix { $0 != ")" })
    let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let payload = bytes[(start + headerLength)...]
    let values = stride(from: payload.startIndex, to: payload.endIndex, by: 4).map { i in
        Float(bitPattern: UInt32(payload[i]) | UInt32(payload[i + 1]) << 8 | UInt32(payload[i + 2]) << 16 | UInt32(payload[i + 3]) << 24)
    }
    XCTAssertEqual(values.count, shape.reduce(1, *))
    return (shape, values)
}

private func interpret(_ model: Model, shape: [Int], _ values: [Float]) throws -> (shape: [Int], values: [Float]) {
    let interpreter = try Interpreter(model: model, threads: 1)
    let outputs = try interpreter.run(inputs: [model.graph.runtimeInputs[0].name: try RuntimeTensor(shape: shape, floats: values)])
    let y = try XCTUnwrap(outputs[model.graph.outputs[0].name])
    return (y.shape, y.floats)
}

private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

private func node(_ model: Model, _ name: String) throws -> Node {
    try XCTUnwrap(model.graph.nodes.first { $0.name == name }, "no node \(name)")
}

private func initializer(_ model: Model, _ name: String) throws -> Tensor {
    try XCTUnwrap(model.graph.initializers.first { $0.name == name }, "no initializer \(name)")
}

private func layerClasses(_ path: String) throws -> [String: (className: String, config: [String: Any])] {
    let text = try XCTUnwrap(try H5Group.open(file: path).string(attribute: "model_config"))
    let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    let layers = try XCTUnwrap((root["config"] as? [String: Any])?["layers"] as? [[String: Any]])
    return Dictionary(uniqueKeysWithValues: layers.map {
        ($0["name"] as! String, ($0["class_name"] as! String, ($0["config"] as? [String: Any]) ?? [:]))
    })
}

/// The fixtures for Conv1D and 1-D pooling, shared layers and bilinear UpSampling2D (Keras 2 .h5,
/// Keras 3 .h5 and .keras), each with Keras's own outputs.
final class KerasGapFixtureTests: XCTestCase {
    static let files = ["k2_conv1d.h5", "k3_conv1d.h5", "k3_conv1d.keras", "k2_shared.h5", "k3_shared.h5", "k3_shared.keras",
                        "k2_upsample.h5", "k3_upsample.h5", "k3_upsample.keras", "k3_shared_nonames.keras",
                        "k2_relu_threshold.h5", "k3_relu_threshold.h5", "k3_relu_threshold.keras"]

    private func stem(_ file: String) -> String { String(file[..<file.firstIndex(of: ".")!]) }

    /// Read by modeltool and run by its interpreter, every file computes what Keras computed.
    func testGapFixturesComputeKerasOutputs() throws {
        for file in Self.files {
            let npz = kerasFixture(stem(file) + ".npz")
            let x = try npzArray(npz, "x"), y = try npzArray(npz, "y")
            let model = try KerasReader.read(path: kerasFixture(file))
            let got = try interpret(model, shape: x.shape, x.values)
            XCTAssertEqual(got.shape, y.shape, file)
            XCTAssertLessThanOrEqual(maxDifference(got.values, y.values), 1e-4, file)
        }
    }

    /// A shared layer becomes one node per call, each with the layer's one set of weights; the calls
    /// read the right tensors (a later call may read an earlier call's output).
    func testSharedLayersGiveOneNodePerCallWithTheSameWeights() throws {
        for file in ["k2_shared.h5", "k3_shared.h5", "k3_shared.keras"] {
            let model = try KerasReader.read(path: kerasFixture(file))
            let convs = ["shared_conv", "shared_conv_1", "shared_conv_2"]
            XCTAssertEqual(model.graph.nodes.filter { $0.name.hasPrefix("shared_conv") && $0.opType == "Conv" }.map(\.name), convs, file)
            XCTAssertEqual(try node(model, "shared_conv").inputs[0], "stem", file)
            XCTAssertEqual(try node(model, "shared_conv_1").inputs[0], "shared_conv", file)  // call 2 reads call 1's relu
            XCTAssertEqual(try node(model, "shared_conv_2").inputs[0], "branch", file)
            XCTAssertEqual(try node(model, "sum").inputs, ["shared_conv_1", "shared_conv_2"], file)
            XCTAssertEqual(try node(model, "cat").inputs, ["shared_dense", "shared_dense_1"], file)
            XCTAssertEqual(try node(model, "shared_dense_1").inputs[0], "shared_dense", file)
            for (layer, calls) in [("shared_conv", convs), ("shared_dense", ["shared_dense", "shared_dense_1"])] {
                let first = try initializer(model, layer + ".weight"), bias = try initializer(model, layer + ".bias")
                XCTAssertEqual(first.dims, layer == "shared_conv" ? [4, 4, 3, 3] : [4, 4], file)
                // Every call reads the same initializers, so the weights are counted once.
                for call in calls {
                    XCTAssertEqual(Array(try node(model, call).inputs.dropFirst()), [first.name, bias.name], "\(file) \(call)")
                    XCTAssertFalse(model.graph.initializers.contains { $0.name == call + ".weight" && call != layer }, "\(file) \(call)")
                }
            }
            if file == "k2_shared.h5" {
                // The stored kernel (kh, kw, in, out) is the one every call uses, as (out, in, kh, kw).
                let k = try H5Group.open(file: kerasFixture(file)).floats(dataset: "model_weights/shared_conv/shared_conv/kernel:0")
                XCTAssertEqual(k.dims, [3, 3, 4, 4])
                XCTAssertEqual(try initializer(model, try node(model, "shared_conv_2").inputs[1]).floats(),
                               permuted(k.values, dims: k.dims, perm: [3, 2, 0, 1]))
            }
            // Keras's own count (model.count_params()) is 202: 16 + 148 + 20 + 18, the stem, shared
            // conv, shared dense and head, each once.
            XCTAssertEqual(model.graph.initializers.reduce(0) { $0 + $1.elementCount }, 16 + 148 + 20 + 18, file)
        }
        let h5 = try KerasReader.read(path: kerasFixture("k3_shared.h5")).graph
        let zip = try KerasReader.read(path: kerasFixture("k3_shared.keras")).graph
        XCTAssertEqual(zip.nodes, h5.nodes)
        XCTAssertEqual(zip.initializers, h5.initializers)
    }

    /// ReLU(threshold t) is ThresholdedRelu(alpha t): Keras 2 and 3 both keep x only where x > t.
    func testReluThresholdIsThresholdedRelu() throws {
        for file in ["k2_relu_threshold.h5", "k3_relu_threshold.h5", "k3_relu_threshold.keras"] {
            let model = try KerasReader.read(path: kerasFixture(file))
            XCTAssertEqual(try node(model, "relu_t").opType, "ThresholdedRelu", file)
            XCTAssertEqual(try node(model, "relu_t").float("alpha", default: 1), 0.5, file)
            XCTAssertEqual(try node(model, "relu_t2").float("alpha", default: 1), 0.1, file)
        }
    }

    /// Without the `name` attribute on the `vars` groups (older Keras 3), weights are found by
    /// snake_case class name and counter in layer order: the same graph and weights as with names.
    func testKeras3WeightGroupsFoundByClassNameWithoutNameAttributes() throws {
        let zip = try XCTUnwrap(try? Archive(url: URL(fileURLWithPath: kerasFixture("k3_shared_nonames.keras")), accessMode: .read))
        var weights = Data()
        _ = try zip.extract(try XCTUnwrap(zip["model.weights.h5"])) { weights.append($0) }
        let temp = try temporaryDirectory(self).appendingPathComponent("w.h5")
        try weights.write(to: temp)
        let stored = try H5Group.open(file: temp.path)
        XCTAssertNil(try stored.group("layers/conv2d_1/vars").string(attribute: "name"))  // the fixture really lacks them
        let named = try KerasReader.read(path: kerasFixture("k3_shared.keras")).graph
        let unnamed = try KerasReader.read(path: kerasFixture("k3_shared_nonames.keras")).graph
        XCTAssertEqual(unnamed.nodes, named.nodes)
        XCTAssertEqual(unnamed.initializers, named.initializers)
    }

    /// Conv1D's 'same', strided 'valid' and dilated 'causal' pads; 1-D pools; global 1-D pools.
    func testConv1DAndOneDimensionalPooling() throws {
        let model = try KerasReader.read(path: kerasFixture("k2_conv1d.h5"))
        XCTAssertEqual(model.graph.nodes.first?.ints("perm"), [0, 2, 1])
        XCTAssertEqual(try node(model, "c1").ints("pads"), [1, 1])
        XCTAssertEqual(try initializer(model, "c1.weight").dims, [6, 3, 3])
        XCTAssertEqual(try node(model, "c2").ints("strides"), [2])
        XCTAssertEqual(try node(model, "causal").ints("pads"), [2, 0])
        XCTAssertEqual(try node(model, "causal").ints("dilations"), [2])
        XCTAssertEqual(try node(model, "ap_same").ints("pads"), [0, 1])
        XCTAssertEqual(try node(model, "ap_same").int("count_include_pad", default: 1), 0)
        XCTAssertEqual(try node(model, "mp_same").ints("pads"), [1, 1])
        XCTAssertEqual(try node(model, "gap1").opType, "GlobalAveragePool")
        XCTAssertEqual(try node(model, "gmp1").opType, "GlobalMaxPool")
        let nchw = try KerasReader.read(path: kerasFixture("k2_conv1d.h5"), nchwInput: true)
        XCTAssertEqual(nchw.graph.inputs[0].tensorType?.shape?.dims.dropFirst().map(\.value), [3, 20])
    }

    func testBilinearUpSamplingIsAHalfPixelLinearResize() throws {
        let model = try KerasReader.read(path: kerasFixture("k3_upsample.keras"))
        let up = try node(model, "up_bilinear_2x3")
        XCTAssertEqual(up.opType, "Resize")
        XCTAssertEqual(up.string("mode", default: ""), "linear")
        XCTAssertEqual(up.string("coordinate_transformation_mode", default: ""), "half_pixel")
        XCTAssertEqual(try initializer(model, up.inputs[2]).floats(), [1, 1, 2, 3])
        XCTAssertEqual(try node(model, "up_nearest").string("mode", default: ""), "nearest")
    }

    /// Keras → IR → Keras .h5 → IR: same function; Conv1D 'causal' stays Conv1D 'causal', bilinear
    /// stays bilinear, and a shared layer stays one layer (its calls are inbound nodes; see KerasWriterTests).
    func testGapFixturesRoundTripThroughTheWriter() throws {
        let dir = try temporaryDirectory(self)
        for file in Self.files {
            let npz = kerasFixture(stem(file) + ".npz")
            let x = try npzArray(npz, "x"), y = try npzArray(npz, "y")
            let out = dir.appendingPathComponent(file.replacingOccurrences(of: ".", with: "_") + ".h5").path
            try KerasWriter.write(try KerasReader.read(path: kerasFixture(file)), to: out, as: .legacyH5)
            let back = try KerasReader.read(path: out)
            XCTAssertLessThanOrEqual(maxDifference(try interpret(back, shape: x.shape, x.values).values, y.values), 1e-4, file)
            let layers = try layerClasses(out)
            switch stem(file).dropFirst(3) {
            case "conv1d":
                XCTAssertEqual(layers["causal"]?.className, "Conv1D", file)
                XCTAssertEqual(layers["causal"]?.config["padding"] as? String, "causal", file)
                XCTAssertNil(layers["causal_pad"], file)
                XCTAssertEqual(layers["ap_same"]?.className, "AveragePooling1D", file)
                XCTAssertEqual(layers["gmp1"]?.className, "GlobalMaxPooling1D", file)
            case "relu_threshold":
                XCTAssertEqual(layers["relu_t"]?.className, "ReLU", file)
                XCTAssertEqual(layers["relu_t"]?.config["threshold"] as? Double, 0.5, file)
                XCTAssertEqual(layers["relu_t2"]?.config["threshold"] as? Double, 0.1, file)
                XCTAssertEqual(try node(back, "relu_t").opType, "ThresholdedRelu", file)
            case "shared", "shared_nonames":
                XCTAssertEqual(["shared_conv", "shared_conv_1", "shared_conv_2"].map { layers[$0]?.className }, ["Conv2D", nil, nil], file)
                XCTAssertEqual(["shared_dense", "shared_dense_1"].map { layers[$0]?.className }, ["Dense", nil], file)
            default:
                XCTAssertEqual(layers["up_bilinear_2x3"]?.config["interpolation"] as? String, "bilinear", file)
                XCTAssertEqual(layers["up_bilinear_2x3"]?.config["size"] as? [Int], [2, 3], file)
            }
        }
    }

    /// Conv1D pads Keras cannot name ('same' would be [1, 1], 'causal' [2, 0]) get a ZeroPadding1D,
    /// which the reader maps back to a Pad; left-only pads of the dilated span become 'causal'.
    func testConv1DPadsBothWays() throws {
        func model(pads: [Int64], dilation: Int64) -> Model {
            let w = Tensor(name: "w", floats: (0..<(2 * 3 * 3)).map { Float($0 % 7) / 7 - 0.4 }, dims: [2, 3, 3])
            let conv = Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                            attributes: [Attribute("pads", .ints(pads)), Attribute("dilations", .ints([dilation]))])
            let t = TensorType(.float, Shape([.symbol("N"), .fixed(3), .fixed(9)]))
            return Model(graph: Graph(name: "g", nodes: [conv], inputs: [ValueInfo(name: "x", tensor: t)],
                                      outputs: [ValueInfo(name: "y")], initializers: [w]))
        }
        let dir = try temporaryDirectory(self)
        let x = (0..<27).map { Float(($0 * 5) % 11) / 5 - 1 }
        for (pads, dilation, classes, padding) in [([0, 3], 1, ["InputLayer", "ZeroPadding1D", "Conv1D"], "valid"),
                                                   ([2, 0], 1, ["InputLayer", "Conv1D"], "causal"),
                                                   ([4, 0], 2, ["InputLayer", "Conv1D"], "causal"),
                                                   ([1, 1], 1, ["InputLayer", "Conv1D"], "same")] as [([Int64], Int64, [String], String)] {
            let m = model(pads: pads, dilation: dilation)
            let path = dir.appendingPathComponent("c1d.h5").path
            try KerasWriter.write(m, to: path, as: .legacyH5)
            let layers = try layerClasses(path)
            XCTAssertEqual(layers.values.map(\.className).sorted(), classes.sorted(), "pads \(pads)")
            XCTAssertEqual(layers["conv"]?.config["padding"] as? String, padding, "pads \(pads)")
            let back = try KerasReader.read(path: path, nchwInput: true)
            let ref = try interpret(m, shape: [1, 3, 9], x)
            let got = try interpret(back, shape: [1, 3, 9], x)
            let steps = ref.shape[2]
            XCTAssertEqual(got.shape, [1, steps, 2], "pads \(pads)")
            XCTAssertLessThanOrEqual(maxDifference(got.values, permuted(ref.values, dims: [1, 2, steps], perm: [0, 2, 1])), 1e-5, "pads \(pads)")
        }
    }
}
