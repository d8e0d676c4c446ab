import Foundation
import ModelIR
import ModelRuntime
import XCTest

@testable import ModelFormats

/// The layers keras.applications emits beyond the usual ones: tf_keras's TF-op layers (MobileNetV3),
/// Normalization (EfficientNet) and Cropping1D/2D (NASNet), read from hand-written configs (weightless
/// layers, so any Keras file serves as the weight store) and written back.
final class KerasApplicationLayerTests: XCTestCase {
    /// A Functional config of `layers` (name, class, config, inbound nodes) from input `x` of `shape`.
    private func functional(_ shape: [Int], _ layers: [(String, String, [String: Any], Any)], output: String) throws -> String {
        var list: [[String: Any]] = [["class_name": "InputLayer", "name": "x",
                                      "config": ["batch_input_shape": [NSNull()] + shape, "name": "x"], "inbound_nodes": []]]
        for (name, cls, config, inbound) in layers {
            var c = config
            c["name"] = name
            list.append(["class_name": cls, "name": name, "config": c, "inbound_nodes": inbound])
        }
        let root: [String: Any] = ["class_name": "Functional", "config": ["name": "m", "layers": list,
                                                                          "input_layers": [["x", 0, 0]], "output_layers": [[output, 0, 0]]]]
        return String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
    }

    private func read(_ config: String) throws -> Model {
        let file = try temporaryDirectory(self).appendingPathComponent("model.json")
        try config.write(to: file, atomically: true, encoding: .utf8)
        return try KerasReader.read(path: kerasFixture("k2_sequential.h5"), configPath: file.path)
    }

    private func run(_ model: Model, shape: [Int], _ x: [Float]) throws -> [Float] {
        let interpreter = try Interpreter(model: model, threads: 1)
        let out = try interpreter.run(inputs: [model.graph.runtimeInputs[0].name: try RuntimeTensor(shape: shape, floats: x)])
        return try XCTUnwrap(out[model.graph.outputs[0].name]).floats
    }

    private func input(_ n: Int) -> [Float] { (0..<n).map { Float($0 % 17) * 0.75 - 5 } }

    /// MobileNetV3's hard swish as tf_keras saves it: x · relu6(x + 3) · (1/6), each a TFOpLambda whose
    /// one tensor is written unwrapped (`[name, node, tensor, kwargs]`), the second operand in kwargs.
    func testTFOpLayersComputeTheirFunctions() throws {
        func op(_ name: String, _ function: String, _ from: String, _ kwargs: [String: Any]) -> (String, String, [String: Any], Any) {
            (name, "TFOpLambda", ["function": function, "trainable": true, "dtype": "float32"],
             [[from, 0, 0, kwargs.merging(["name": NSNull()]) { a, _ in a }]])
        }
        let config = try functional([2, 2, 3], [
            op("tf.__operators__.add", "__operators__.add", "x", ["y": 3.0]),
            op("tf.nn.relu6", "nn.relu6", "tf.__operators__.add", [:]),
            op("tf.math.multiply", "math.multiply", "tf.nn.relu6", ["y": 1.0 / 6]),
            op("tf.math.multiply_1", "math.multiply", "x", ["y": ["tf.math.multiply", 0, 0]]),
            op("tf.math.truediv", "math.truediv", "tf.math.multiply_1", ["y": 2.0]),
            op("tf.math.subtract", "math.subtract", "tf.math.truediv", ["y": [0.5]]),
        ], output: "tf.math.subtract")
        let model = try read(config)
        let x = input(12)
        let got = try run(model, shape: [1, 2, 2, 3], x)
        let want = x.map { v in v * min(max(v + 3, 0), 6) * (1 / 6) / 2 - 0.5 }
        for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: 1e-5) }

        // Written back (as Rescaling, ReLU and Multiply) and read again: the same function.
        let dir = try temporaryDirectory(self)
        for (ext, container) in [("h5", KerasWriter.Container.legacyH5), ("keras", .kerasZip)] {
            let path = dir.appendingPathComponent("m.\(ext)").path
            try KerasWriter.write(model, to: path, as: container)
            let back = try run(try KerasReader.read(path: path), shape: [1, 2, 2, 3], x)
            for (g, w) in zip(back, want) { XCTAssertEqual(g, w, accuracy: 1e-5, ext) }
        }
    }

    /// Keras 3's MobileNetV3: `x + 3.0` and `x * (1/6)` are ops layers (classes Add and Multiply of
    /// keras.src.ops.numpy) called with args [x, constant], hard swish is Activation("hard_silu"), and
    /// the squeeze-and-excite Multiply broadcasts a (1, 1, c) tensor; all written back and read again.
    func testKeras3OpsLayersHardSiluAndBroadcastMultiply() throws {
        func tensor(_ layer: String) -> [String: Any] {
            ["class_name": "__keras_tensor__", "config": ["shape": [NSNull()], "dtype": "float32", "keras_history": [layer, 0, 0]]]
        }
        func call(_ args: [Any]) -> [[String: Any]] { [["args": args, "kwargs": [:] as [String: Any]]] }
        let config = try functional([2, 2, 3], [
            ("add", "Add", [:], call([tensor("x"), 3.0])),
            ("re_lu", "ReLU", ["max_value": 6.0], call([tensor("add")])),
            ("multiply", "Multiply", [:], call([tensor("re_lu"), 1.0 / 6])),
            ("gap", "GlobalAveragePooling2D", ["keepdims": true, "data_format": "channels_last"], call([tensor("multiply")])),
            ("se", "Multiply", [:], call([[tensor("x"), tensor("gap")]])),
            ("hs", "Activation", ["activation": "hard_silu"], call([tensor("se")])),
            ("half", "TrueDivide", [:], call([tensor("hs"), 2.0])),
            ("flip", "Subtract", [:], call([1.0, tensor("half")])),
        ], output: "flip")
        let model = try read(config)
        let x = input(12)
        let gate: [Float] = x.map { v -> Float in min(max(v + 3, 0), 6) / 6 }
        var mean = [Float](repeating: 0, count: 3)
        for (i, g) in gate.enumerated() { mean[i % 3] += g / 4 }
        let want = x.enumerated().map { i, v -> Float in
            let se = v * mean[i % 3]
            return 1 - se * min(max(se + 3, 0), 6) / 6 / 2
        }
        for (g, w) in zip(try run(model, shape: [1, 2, 2, 3], x), want) { XCTAssertEqual(g, w, accuracy: 1e-5) }
        let dir = try temporaryDirectory(self)
        for (ext, container) in [("h5", KerasWriter.Container.legacyH5), ("keras", .kerasZip)] {
            let path = dir.appendingPathComponent("m.\(ext)").path
            try KerasWriter.write(model, to: path, as: container)
            for (g, w) in zip(try run(try KerasReader.read(path: path), shape: [1, 2, 2, 3], x), want) {
                XCTAssertEqual(g, w, accuracy: 1e-5, ext)
            }
        }
    }

    /// Every TF op without a mapping is named in one error, with its function.
    func testUnmappedTFOpsAreListedAtOnce() throws {
        let config = try functional([4], [
            ("tf.math.reduce_mean", "TFOpLambda", ["function": "math.reduce_mean"], [["x", 0, 0, ["axis": -1]]]),
            ("tf.linalg.matmul", "TFOpLambda", ["function": "linalg.matmul"], [["x", 0, 0, [:] as [String: Any]]]),
        ], output: "tf.linalg.matmul")
        do {
            _ = try read(config)
            XCTFail("unmapped TF ops were accepted")
        } catch let e as ModelError {
            XCTAssertTrue(e.message.contains("tf.math.reduce_mean (TFOpLambda tf.math.reduce_mean has no mapping)"), e.message)
            XCTAssertTrue(e.message.contains("tf.linalg.matmul (TFOpLambda tf.linalg.matmul has no mapping)"), e.message)
            XCTAssertFalse(e.message.contains("\n"))
        }
    }

    /// Cropping2D as NASNet uses it, ((1, 0), (1, 0)), and Cropping1D; both written back as themselves.
    func testCroppingReadsAndWritesBack() throws {
        let config = try functional([4, 5, 2], [
            ("crop", "Cropping2D", ["cropping": [[1, 0], [1, 2]], "data_format": "channels_last"], [[["x", 0, 0, [:] as [String: Any]]]]),
        ], output: "crop")
        let model = try read(config)
        let x = input(40)
        let got = try run(model, shape: [1, 4, 5, 2], x)
        var want: [Float] = []
        for h in 1..<4 { for w in 1..<3 { for c in 0..<2 { want.append(x[(h * 5 + w) * 2 + c]) } } }
        XCTAssertEqual(got, want)
        let path = try temporaryDirectory(self).appendingPathComponent("crop.h5").path
        try KerasWriter.write(model, to: path, as: .legacyH5)
        let text = try XCTUnwrap(try H5Group.open(file: path).string(attribute: "model_config"))
        XCTAssertTrue(text.contains("\"Cropping2D\""), text)
        XCTAssertEqual(try run(try KerasReader.read(path: path), shape: [1, 4, 5, 2], x), want)

        let oneD = try read(try functional([6, 2], [("crop1", "Cropping1D", ["cropping": [2, 1]], [[["x", 0, 0, [:] as [String: Any]]]])],
                                          output: "crop1"))
        XCTAssertEqual(try run(oneD, shape: [1, 6, 2], input(12)), Array(input(12)[4..<10]))
        let path1 = try temporaryDirectory(self).appendingPathComponent("crop1.keras").path
        try KerasWriter.write(oneD, to: path1, as: .kerasZip)
        XCTAssertEqual(try run(try KerasReader.read(path: path1), shape: [1, 6, 2], input(12)), Array(input(12)[4..<10]))
    }

    /// Normalization: (x − mean) / max(√variance, 1e-7) per channel; a zero variance divides by 1e-7,
    /// as Keras does. Written back as Normalization with its statistics in the config.
    func testNormalizationReadsAndWritesBack() throws {
        let config = try functional([2, 2, 3], [
            ("norm", "Normalization", ["axis": -1, "mean": [0.5, -1, 2], "variance": [4, 0.25, 0], "invert": false],
             [[["x", 0, 0, [:] as [String: Any]]]]),
        ], output: "norm")
        let model = try read(config)
        let x = input(12)
        let mean: [Float] = [0.5, -1, 2], std: [Float] = [2, 0.5, 1e-7]
        let want = x.enumerated().map { i, v in (v - mean[i % 3]) / std[i % 3] }
        let got = try run(model, shape: [1, 2, 2, 3], x)
        for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: abs(w) * 1e-6) }
        let path = try temporaryDirectory(self).appendingPathComponent("norm.h5").path
        try KerasWriter.write(model, to: path, as: .legacyH5)
        let text = try XCTUnwrap(try H5Group.open(file: path).string(attribute: "model_config"))
        XCTAssertTrue(text.contains("\"Normalization\""), text)
        let back = try KerasReader.read(path: path)
        XCTAssertTrue(back.graph.nodes.contains { $0.name == "norm" && $0.opType == "BatchNormalization" })
        for (g, w) in zip(try run(back, shape: [1, 2, 2, 3], x), want) { XCTAssertEqual(g, w, accuracy: abs(w) * 1e-6) }
    }
}
