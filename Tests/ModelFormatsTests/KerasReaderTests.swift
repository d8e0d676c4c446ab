import Foundation
import ModelIR
import XCTest

@testable import ModelFormats

/// Fixtures/keras/NAME.
func kerasFixture(_ name: String) -> String { repositoryRoot.appendingPathComponent("Fixtures/keras/\(name)").path }

private func node(_ model: Model, _ name: String) throws -> Node {
    try XCTUnwrap(model.graph.nodes.first { $0.name == name }, "no node \(name)")
}

private func initializer(_ model: Model, _ name: String) throws -> Tensor {
    try XCTUnwrap(model.graph.initializers.first { $0.name == name }, "no initializer \(name)")
}

/// The stored Keras weight `dataset` of k2_sequential.h5, read straight from the file.
private func kerasWeight(_ file: String, _ dataset: String) throws -> (dims: [Int], values: [Float]) {
    try H5Group.open(file: kerasFixture(file)).floats(dataset: dataset)
}

final class KerasReaderTests: XCTestCase {
    func testKeras2SequentialLayoutFacts() throws {
        let model = try KerasReader.read(path: kerasFixture("k2_sequential.h5"))
        let g = model.graph
        XCTAssertEqual(g.inputs.first?.tensorType?.shape, Shape([.symbol("N"), .fixed(16), .fixed(16), .fixed(3)]))
        XCTAssertEqual(g.nodes.first?.opType, "Transpose")
        XCTAssertEqual(g.nodes.first?.ints("perm"), [0, 3, 1, 2])
        XCTAssertEqual(g.outputs.first?.name, "logits")

        // Conv kernel (kh, kw, in, out) → (out, in, kh, kw), element by element.
        let keras = try kerasWeight("k2_sequential.h5", "model_weights/conv_a/conv_a/kernel:0")
        XCTAssertEqual(keras.dims, [3, 3, 3, 8])
        let w = try initializer(model, "conv_a.weight")
        XCTAssertEqual(w.dims, [8, 3, 3, 3])
        let ours = try w.floats()
        for (o, i, y, x) in [(0, 0, 0, 0), (7, 2, 1, 0), (3, 1, 2, 2)] {
            XCTAssertEqual(ours[((o * 3 + i) * 3 + y) * 3 + x], keras.values[((y * 3 + x) * 3 + i) * 8 + o])
        }
        XCTAssertEqual(try node(model, "conv_a").ints("pads"), [1, 1, 1, 1])
        XCTAssertEqual(try node(model, "conv_a/relu").opType, "Relu")

        // Depthwise (3, 3, 8, 2) → (16, 1, 3, 3), group 8, no bias input.
        let dw = try node(model, "dw")
        XCTAssertEqual(dw.int("group", default: 0), 8)
        XCTAssertEqual(dw.inputs.count, 2)
        XCTAssertEqual(try initializer(model, "dw.weight").dims, [16, 1, 3, 3])
        let dk = try kerasWeight("k2_sequential.h5", "model_weights/dw/dw/depthwise_kernel:0")
        let dwOurs = try initializer(model, "dw.weight").floats()
        // output channel c·M + m ← kernel[:, :, c, m]
        XCTAssertEqual(dwOurs[(5 * 2 + 1) * 9 + 4], dk.values[(1 * 3 + 1) * 16 + 5 * 2 + 1])

        // BN keeps Keras's epsilon and momentum (0.99, which fine-tuning applies; ONNX's default is 0.9);
        // ReLU(max_value=6) is a Clip.
        XCTAssertEqual(try node(model, "bn_a").float("epsilon", default: 0), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(try node(model, "bn_a").float("momentum", default: 0), 0.99, accuracy: 1e-9)
        XCTAssertEqual(try node(model, "relu6").opType, "Clip")

        // 'same' average pool 3/2 on 8×8: one padding pixel, at the end.
        let avg = try node(model, "avg_same")
        XCTAssertEqual(avg.ints("pads"), [0, 0, 1, 1])
        XCTAssertEqual(avg.int("count_include_pad", default: -1), 0)

        // Flatten → Dense: kernel rows permuted from (h, w, c) to (c, h, w); h = w = 2, c = 4.
        let dense = try kerasWeight("k2_sequential.h5", "model_weights/logits/logits/kernel:0")
        XCTAssertEqual(dense.dims, [16, 10])
        let gemm = try initializer(model, "logits.weight")
        XCTAssertEqual(gemm.dims, [10, 16])
        let g2 = try gemm.floats()
        for (u, c, i, j) in [(0, 0, 0, 1), (9, 3, 1, 0), (4, 2, 1, 1)] {
            XCTAssertEqual(g2[u * 16 + (c * 2 + i) * 2 + j], dense.values[((i * 2 + j) * 4 + c) * 10 + u])
        }
        XCTAssertEqual(try node(model, "logits/softmax").opType, "Softmax")
    }

    func testNchwInputDropsTheTranspose() throws {
        let model = try KerasReader.read(path: kerasFixture("k2_functional.h5"), nchwInput: true)
        XCTAssertEqual(model.graph.inputs.first?.tensorType?.shape, Shape([.symbol("N"), .fixed(3), .fixed(12), .fixed(12)]))
        XCTAssertNotEqual(model.graph.nodes.first?.opType, "Transpose")
        XCTAssertEqual(model.graph.nodes.first?.name, "stem")
    }

    func testFunctionalResidualAndConcat() throws {
        let model = try KerasReader.read(path: kerasFixture("k2_functional.h5"))
        XCTAssertEqual(try node(model, "residual").inputs, ["stem", "sep_relu"])
        let concat = try node(model, "concat")
        XCTAssertEqual(concat.int("axis", default: -1), 1)
        XCTAssertEqual(concat.inputs, ["residual", "squeeze"])
        XCTAssertEqual(try initializer(model, "sep/depthwise.weight").dims, [8, 1, 3, 3])
        XCTAssertEqual(try initializer(model, "sep.weight").dims, [8, 8, 1, 1])
        XCTAssertEqual(try node(model, "stem").ints("strides"), [2, 2])
    }

    /// The same model saved in several forms reads to the same graph.
    func testEveryFileFormGivesTheSameGraph() throws {
        let k2 = try KerasReader.read(path: kerasFixture("k2_functional.h5")).graph
        let old = try KerasReader.read(path: kerasFixture("k2_functional_oldconfig.h5")).graph
        XCTAssertEqual(old.nodes, k2.nodes)
        XCTAssertEqual(old.initializers, k2.initializers)
        let oldSeq = try KerasReader.read(path: kerasFixture("k2_sequential_oldconfig.h5")).graph
        let k2Seq = try KerasReader.read(path: kerasFixture("k2_sequential.h5")).graph
        XCTAssertEqual(oldSeq.initializers, k2Seq.initializers)
        XCTAssertEqual(oldSeq.nodes.map(\.opType), k2Seq.nodes.map(\.opType))

        for name in ["k3_sequential", "k3_functional"] {
            let h5 = try KerasReader.read(path: kerasFixture(name + ".h5")).graph
            let zip = try KerasReader.read(path: kerasFixture(name + ".keras")).graph
            XCTAssertEqual(zip.nodes, h5.nodes, name)
            XCTAssertEqual(zip.initializers, h5.initializers, name)
        }
        let k3 = try KerasReader.read(path: kerasFixture("k3_sequential.keras"))
        XCTAssertEqual(k3.metadata.first { $0.key == "keras_version" }?.value.hasPrefix("3."), true)
    }

    func testWeightsOnlyFilesWithConfig() throws {
        let k2 = try KerasReader.read(path: kerasFixture("k2_weights_only.h5"), configPath: kerasFixture("k2_weights_only.json"))
        XCTAssertEqual(k2.graph.nodes.map(\.name), try KerasReader.read(path: kerasFixture("k2_functional.h5")).graph.nodes.map(\.name))
        let k3 = try KerasReader.read(path: kerasFixture("k3_weights_only.weights.h5"), configPath: kerasFixture("k3_weights_only.json"))
        XCTAssertEqual(try initializer(k3, "dw.weight").dims, [16, 1, 3, 3])
        XCTAssertThrowsError(try KerasReader.read(path: kerasFixture("k2_weights_only.h5"))) { error in
            XCTAssertTrue("\(error)".contains("--config"), "\(error)")
        }
    }

    func testStringAttributeForms() throws {
        // layer_names0/1 split list and variable-length weight_names (k2_functional_oldconfig), fixed-length
        // layer_names (k2), the empty float64 array for "no weights".
        let old = try H5Group.open(file: kerasFixture("k2_functional_oldconfig.h5")).group("model_weights")
        let split = try XCTUnwrap(old.strings(attribute: "layer_names"))
        XCTAssertEqual(split.first, "image")
        XCTAssertEqual(split.count, 13)
        XCTAssertEqual(try old.group("stem").strings(attribute: "weight_names"), ["stem/kernel:0", "stem/bias:0"])
        XCTAssertEqual(try old.group("gap").strings(attribute: "weight_names"), [])
        XCTAssertNil(try old.strings(attribute: "no_such_attribute"))
    }

    func testKeras3SnakeCaseGroupNames() {
        for (cls, snake) in [("Conv2D", "conv2d"), ("DepthwiseConv2D", "depthwise_conv2d"), ("ReLU", "re_lu"),
                             ("BatchNormalization", "batch_normalization"), ("PReLU", "p_re_lu"),
                             ("GlobalAveragePooling2D", "global_average_pooling2d"), ("Conv2DTranspose", "conv2d_transpose")] {
            XCTAssertEqual(KerasWeightStore.snakeCase(cls), snake)
        }
    }

    func testRegistryHasNoDuplicateKeys() {
        let total = KerasLayers.families.reduce(0) { $0 + $1.count }
        XCTAssertEqual(KerasLayers.all.count, total, "a layer class is registered twice")
        for cls in ["Conv2D", "DepthwiseConv2D", "SeparableConv2D", "BatchNormalization", "MaxPooling2D", "AveragePooling2D",
                    "GlobalAveragePooling2D", "Flatten", "Dense", "Dropout", "Add", "Concatenate", "ReLU", "Activation"] {
            XCTAssertNotNil(KerasLayers.all[cls], cls)
        }
    }
}
