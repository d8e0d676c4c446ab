import Foundation
import ModelIR
import ModelRuntime
import XCTest
import ZIPFoundation

@testable import ModelFormats

/// Fixtures/models/NAME.
private func modelFixture(_ name: String) -> String { repositoryRoot.appendingPathComponent("Fixtures/models/\(name)").path }

/// Deterministic pseudo-random inputs in [-1, 1).
private func sampleInput(_ count: Int, seed: UInt64 = 7) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1
    }
}

/// Runs a one-input, one-output model.
private func evaluate(_ model: Model, shape: [Int], _ values: [Float]) throws -> [Float] {
    let interpreter = try Interpreter(model: model, threads: 1)
    let input = model.graph.runtimeInputs[0].name
    let outputs = try interpreter.run(inputs: [input: try RuntimeTensor(shape: shape, floats: values)])
    return try XCTUnwrap(outputs[model.graph.outputs[0].name]).floats
}

/// (n, c, h, w) → (n, h, w, c).
private func toNHWC(_ x: [Float], _ d: [Int]) -> [Float] { permuted(x, dims: d, perm: [0, 2, 3, 1]) }

private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    XCTAssertEqual(a.count, b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
}

/// The root attribute `name` of an HDF5 file as a JSON object.
private func jsonAttribute(_ file: String, _ name: String) throws -> [String: Any] {
    let text = try XCTUnwrap(try H5Group.open(file: file).string(attribute: name))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

private func configLayers(_ config: [String: Any]) throws -> [[String: Any]] {
    try XCTUnwrap((config["config"] as? [String: Any])?["layers"] as? [[String: Any]])
}

final class KerasWriterTests: XCTestCase {
    /// PyTorch-made NCHW models: ONNX → .h5 / .keras → read back computes the same function on NHWC input.
    func testPyTorchModelsRoundTripThroughKeras() throws {
        let dir = try temporaryDirectory(self)
        for name in ["vgg_style", "resnet_style", "mobilenet_style", "lenet"] {
            let onnx = try ONNXReader.read(path: modelFixture("\(name).onnx"))
            let dims = [2, 1, 28, 28]
            let x = sampleInput(dims.reduce(1, *))
            let expected = try evaluate(onnx, shape: dims, x)
            for (ext, container) in [("h5", KerasWriter.Container.legacyH5), ("keras", .kerasZip)] {
                let path = dir.appendingPathComponent("\(name).\(ext)").path
                try KerasWriter.write(onnx, to: path, as: container)
                let back = try KerasReader.read(path: path)
                XCTAssertEqual(back.graph.inputs[0].tensorType?.shape?.dims.dropFirst().map(\.value), [28, 28, 1], name)
                let got = try evaluate(back, shape: [2, 28, 28, 1], toNHWC(x, dims))
                XCTAssertLessThanOrEqual(maxDifference(got, expected), 1e-4, "\(name).\(ext)")
            }
        }
    }

    /// Keras → IR → Keras → IR keeps the function, the layer names and the layer classes.
    func testKerasFixturesRoundTrip() throws {
        let dir = try temporaryDirectory(self)
        for name in ["k2_sequential.h5", "k2_functional.h5", "k2_zoo.h5", "k3_zoo.keras"] {
            let first = try KerasReader.read(path: kerasFixture(name))
            let shape = try XCTUnwrap(first.graph.inputs[0].tensorType?.shape?.dims.dropFirst().map(\.value))
            let dims = [2] + shape.map { $0! }
            let x = sampleInput(dims.reduce(1, *))
            let out = dir.appendingPathComponent(name + ".h5").path
            try KerasWriter.write(first, to: out, as: .legacyH5)
            let second = try KerasReader.read(path: out)
            XCTAssertLessThanOrEqual(maxDifference(try evaluate(second, shape: dims, x), try evaluate(first, shape: dims, x)), 1e-5, name)
        }
        let original = try configLayers(try jsonAttribute(kerasFixture("k2_functional.h5"), "model_config"))
        let written = try configLayers(try jsonAttribute(dir.appendingPathComponent("k2_functional.h5.h5").path, "model_config"))
        func classes(_ layers: [[String: Any]]) -> [String: String] {
            Dictionary(uniqueKeysWithValues: layers.map { ($0["name"] as! String, $0["class_name"] as! String) })
        }
        XCTAssertEqual(classes(written), classes(original))
    }

    /// The stored layout: kernels (kh, kw, in, out), Dense rows after a Flatten in (h, w, c) order,
    /// layer_names and weight_names, sanitised names, and no training_config when the source had none.
    func testLegacyLayoutFacts() throws {
        let onnx = try ONNXReader.read(path: modelFixture("vgg_style.onnx"))
        let path = try temporaryDirectory(self).appendingPathComponent("vgg.h5").path
        try KerasWriter.write(onnx, to: path, as: .legacyH5)
        let root = try H5Group.open(file: path)
        XCTAssertFalse(root.hasAttribute("training_config"))
        XCTAssertEqual(try root.string(attribute: "backend"), "tensorflow")
        let config = try jsonAttribute(path, "model_config")
        XCTAssertEqual(config["class_name"] as? String, "Functional")
        let layers = try configLayers(config)
        let names = layers.map { $0["name"] as! String }
        XCTAssertTrue(names.allSatisfy { !$0.contains("/") && !$0.hasPrefix("_") }, "\(names)")
        XCTAssertEqual(try root.group("model_weights").strings(attribute: "layer_names"), names)

        let convNode = try XCTUnwrap(onnx.graph.nodes.first { $0.opType == "Conv" })
        let w = try XCTUnwrap(onnx.graph.initializerIndex[convNode.inputs[1]])
        let convName = KerasExporter.sanitize(convNode.name)
        let group = try root.group("model_weights/\(convName)")
        XCTAssertEqual(try group.strings(attribute: "weight_names"), ["\(convName)/kernel:0", "\(convName)/bias:0"])
        let kernel = try group.floats(dataset: "\(convName)/kernel:0")
        let (o, i, kh, kw) = (w.dims[0], w.dims[1], w.dims[2], w.dims[3])
        XCTAssertEqual(kernel.dims, [kh, kw, i, o])
        let ir = try w.floats()
        for (oc, ic, y, x) in [(0, 0, 0, 0), (o - 1, i - 1, kh - 1, 0), (1, 0, 2, 1)] {
            XCTAssertEqual(kernel.values[((y * kw + x) * i + ic) * o + oc], ir[((oc * i + ic) * kh + y) * kw + x])
        }

        // The first Gemm reads a (C, H, W) flatten: Keras row (h, w, c) is IR column (c, h, w).
        let gemm = try XCTUnwrap(onnx.graph.nodes.first { $0.opType == "Gemm" })
        let gw = try XCTUnwrap(onnx.graph.initializerIndex[gemm.inputs[1]])
        let dense = try root.group("model_weights/\(KerasExporter.sanitize(gemm.name))")
        let k = try dense.floats(dataset: "\(KerasExporter.sanitize(gemm.name))/kernel:0")
        let flatten = try XCTUnwrap(layers.first { $0["class_name"] as? String == "Flatten" })
        XCTAssertNotNil(flatten)
        let pool = try XCTUnwrap(layers.last { $0["class_name"] as? String == "MaxPooling2D" })
        XCTAssertEqual((pool["config"] as? [String: Any])?["padding"] as? String, "valid")
        let (units, features) = (gw.dims[0], gw.dims[1])
        XCTAssertEqual(k.dims, [features, units])
        let c = 32, hw = features / c, side = Int(Double(hw).squareRoot())  // vgg_style ends with 32 × 7 × 7
        XCTAssertEqual(side * side * c, features)
        let gv = try gw.floats()
        for (u, ch, y, x) in [(0, 0, 0, 1), (units - 1, c - 1, side - 1, side - 2), (3, 5, 2, 4)] {
            let kerasRow = (y * side + x) * c + ch, irColumn = (ch * side + y) * side + x
            XCTAssertEqual(k.values[kerasRow * units + u], gv[u * features + irColumn])
        }
    }

    /// The .keras zip holds config.json, metadata.json and model.weights.h5 with snake_case groups.
    func testKerasZipLayout() throws {
        let onnx = try ONNXReader.read(path: modelFixture("resnet_style.onnx"))
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("resnet.keras").path
        try KerasWriter.write(onnx, to: path, as: .kerasZip)
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        XCTAssertEqual(Set(archive.map(\.path)), ["config.json", "metadata.json", "model.weights.h5"])
        var data = Data()
        _ = try archive.extract(try XCTUnwrap(archive["model.weights.h5"])) { data.append($0) }
        let weights = dir.appendingPathComponent("w.h5")
        try data.write(to: weights)
        let root = try H5Group.open(file: weights.path)
        XCTAssertTrue(root.has("layers/conv2d/vars/0"))
        XCTAssertTrue(root.has("layers/batch_normalization/vars/3"))
        XCTAssertTrue(root.has("layers/dense/vars/1"))
        XCTAssertEqual(try root.floats(dataset: "layers/conv2d/vars/0").dims.count, 4)
        XCTAssertEqual(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".resnet.keras.tmp").path), false)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [])
    }

    /// Pads that are neither 'valid' nor Keras's 'same' get a ZeroPadding2D; 'same' pads do not.
    func testPaddingChoice() throws {
        func model(pads: [Int64], strides: [Int64]) -> Model {
            let w = Tensor(name: "w", floats: sampleInput(2 * 3 * 3 * 3), dims: [2, 3, 3, 3])
            let conv = Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                            attributes: [Attribute("pads", .ints(pads)), Attribute("strides", .ints(strides))])
            let t = TensorType(.float, Shape([.symbol("N"), .fixed(3), .fixed(8), .fixed(8)]))
            return Model(graph: Graph(name: "g", nodes: [conv], inputs: [ValueInfo(name: "x", tensor: t)],
                                      outputs: [ValueInfo(name: "y")], initializers: [w]))
        }
        let dir = try temporaryDirectory(self)
        for (pads, strides, expected) in [([1, 1, 1, 1], [1, 1], ["InputLayer", "Conv2D"]),
                                          ([0, 0, 1, 1], [2, 2], ["InputLayer", "Conv2D"]),  // TF's 'same' at stride 2
                                          ([1, 1, 1, 1], [2, 2], ["InputLayer", "ZeroPadding2D", "Conv2D"])] as [([Int64], [Int64], [String])] {
            let m = model(pads: pads, strides: strides)
            let path = dir.appendingPathComponent("pad.h5").path
            try KerasWriter.write(m, to: path, as: .legacyH5)
            let layers = try configLayers(try jsonAttribute(path, "model_config"))
            XCTAssertEqual(layers.map { $0["class_name"] as! String }, expected, "pads \(pads) strides \(strides)")
            let dims = [1, 3, 8, 8], x = sampleInput(192)
            let back = try KerasReader.read(path: path, nchwInput: true)
            let ref = try evaluate(m, shape: dims, x)
            // The Keras model's output is channels-last; compare in that order.
            let outSide = Int(Double(ref.count / 2).squareRoot())
            XCTAssertLessThanOrEqual(maxDifference(try evaluate(back, shape: dims, x), toNHWC(ref, [1, 2, outSide, outSide])), 1e-5)
        }
    }

    /// Every node without a Keras equivalent is named in one error, and nothing is written.
    func testUnsupportedNodesAreListedTogether() throws {
        let t = TensorType(.float, Shape([.symbol("N"), .fixed(4), .fixed(5), .fixed(5)]))
        let graph = Graph(name: "g", nodes: [
            Node(name: "norm", opType: "LRN", inputs: ["x"], outputs: ["a"], attributes: [Attribute("size", .int(3))]),
            Node(name: "odd", opType: "Transpose", inputs: ["x"], outputs: ["b"], attributes: [Attribute("perm", .ints([0, 1, 3, 2]))]),
            Node(name: "sum", opType: "Add", inputs: ["a", "b"], outputs: ["y"]),
        ], inputs: [ValueInfo(name: "x", tensor: t)], outputs: [ValueInfo(name: "y")])
        let path = try temporaryDirectory(self).appendingPathComponent("bad.h5").path
        XCTAssertThrowsError(try KerasWriter.write(Model(graph: graph), to: path, as: .legacyH5)) { error in
            let message = (error as? ModelError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains("norm (LRN)"), message)
            XCTAssertTrue(message.contains("odd (Transpose)"), message)
            XCTAssertTrue(message.contains("2 node(s)"), message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    /// ConvTranspose whose pads Keras's 'valid'/'same' (± output_padding) reproduce → Conv2DTranspose
    /// and back, computing the same; pads Keras cannot express are refused.
    func testConvTransposeBothWays() throws {
        func model(kernel: Int, stride: Int, pads: [Int64], outputPadding: [Int64]) -> Model {
            let w = Tensor(name: "w", floats: sampleInput(3 * 2 * kernel * kernel, seed: 3), dims: [3, 2, kernel, kernel])
            let b = Tensor(name: "b", floats: [0.5, -0.25], dims: [2])
            let node = Node(name: "up", opType: "ConvTranspose", inputs: ["x", "w", "b"], outputs: ["y"],
                            attributes: [Attribute("strides", .ints([Int64(stride), Int64(stride)])), Attribute("pads", .ints(pads)),
                                         Attribute("output_padding", .ints(outputPadding))])
            let t = TensorType(.float, Shape([.symbol("N"), .fixed(3), .fixed(5), .fixed(5)]))
            return Model(graph: Graph(name: "g", nodes: [node], inputs: [ValueInfo(name: "x", tensor: t)],
                                      outputs: [ValueInfo(name: "y")], initializers: [w, b]))
        }
        let dir = try temporaryDirectory(self)
        let cases: [(Int, Int, [Int64], [Int64], String)] = [
            (2, 2, [0, 0, 0, 0], [0, 0], "valid"),  // PyTorch ConvTranspose2d(k=2, s=2)
            (4, 2, [1, 1, 1, 1], [0, 0], "same"),   // k=4, s=2, p=1
            (3, 1, [1, 1, 1, 1], [0, 0], "same"),
            (3, 2, [0, 0, 0, 0], [0, 0], "valid"),
            (1, 3, [0, 0, 0, 0], [2, 2], "valid"),  // k < s: Keras pads the end
        ]
        for (k, s, pads, op, padding) in cases {
            let m = model(kernel: k, stride: s, pads: pads, outputPadding: op)
            let path = dir.appendingPathComponent("up.h5").path
            try KerasWriter.write(m, to: path, as: .legacyH5)
            let layer = try XCTUnwrap(try configLayers(try jsonAttribute(path, "model_config")).last)
            XCTAssertEqual(layer["class_name"] as? String, "Conv2DTranspose")
            XCTAssertEqual((layer["config"] as? [String: Any])?["padding"] as? String, padding, "k \(k) s \(s) pads \(pads)")
            let back = try KerasReader.read(path: path, nchwInput: true)
            let x = sampleInput(75)
            let ref = try evaluate(m, shape: [1, 3, 5, 5], x)
            let side = Int(Double(ref.count / 2).squareRoot())
            XCTAssertLessThanOrEqual(maxDifference(try evaluate(back, shape: [1, 3, 5, 5], x), toNHWC(ref, [1, 2, side, side])), 1e-5,
                                     "k \(k) s \(s) pads \(pads)")
        }
        // k=3, s=2, p=1, output_padding 1 (a common PyTorch upsampler) crops the start by one: no Keras form.
        XCTAssertThrowsError(try KerasWriter.write(model(kernel: 3, stride: 2, pads: [1, 1, 1, 1], outputPadding: [1, 1]),
                                                   to: dir.appendingPathComponent("no.h5").path, as: .legacyH5)) { error in
            XCTAssertTrue("\(error)".contains("up (ConvTranspose)"), "\(error)")
        }
    }

    /// training_config is written only when the source carried one; a file that cannot be created
    /// gives one clear error and leaves an existing target untouched.
    func testTrainingConfigAndFailedWrites() throws {
        var model = try KerasReader.read(path: kerasFixture("k2_sequential.h5"))
        let training = #"{"loss": "categorical_crossentropy", "optimizer_config": {"class_name": "Adam", "config": {}}}"#
        model.metadata.append(("keras_training_config", training))
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("t.h5").path
        try KerasWriter.write(model, to: path, as: .legacyH5)
        XCTAssertEqual(try H5Group.open(file: path).string(attribute: "training_config"), training)

        XCTAssertThrowsError(try KerasWriter.write(model, to: dir.appendingPathComponent("missing/m.h5").path, as: .legacyH5)) { error in
            XCTAssertTrue("\(error)".contains("cannot create"), "\(error)")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var broken = model
        broken.graph.nodes.insert(Node(name: "norm", opType: "LRN", inputs: [broken.graph.inputs[0].name], outputs: ["unused"]), at: 0)
        broken.graph.outputs.append(ValueInfo(name: "unused"))
        XCTAssertThrowsError(try KerasWriter.write(broken, to: path, as: .legacyH5))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["t.h5"])
    }

    /// Rewriting in place keeps training_config and the optimizer weights that still fit, and drops
    /// (with a message) those whose layer weight changed shape.
    func testRewriteKeepsFittingOptimizerWeights() throws {
        let model = try KerasReader.read(path: kerasFixture("k2_sequential.h5"))
        let plan = try KerasExporter(model).plan()
        let conv = try XCTUnwrap(plan.layers.first { $0.className == "Conv2D" })
        let dense = try XCTUnwrap(plan.layers.first { $0.className == "Dense" })
        let kernel = try XCTUnwrap(conv.weights.first), bias = try XCTUnwrap(dense.weights.last)
        let path = try temporaryDirectory(self).appendingPathComponent("m.h5").path
        let names = ["Adam/iter:0", "Adam/\(conv.name)/kernel/m:0", "Adam/\(dense.name)/bias/m:0"]
        let wider = kernel.dims.dropLast() + [kernel.dims.last! * 2]
        try H5Group.create(path) { root in
            try root.setAttribute("training_config", string: #"{"loss": "mse"}"#)
            let group = try root.makeGroup("optimizer_weights")
            try group.setAttribute("weight_names", strings: names)
            try group.writeFloats(names[0], dims: [], values: [42])
            try group.writeFloats(names[1], dims: Array(wider), values: [Float](repeating: 1, count: wider.reduce(1, *)))
            try group.writeFloats(names[2], dims: bias.dims, values: bias.values.map { $0 + 1 })
        }
        let messages = try KerasWriter.rewriteLegacyH5(model, keepingTrainingStateOf: path, to: path)
        XCTAssertEqual(messages.count, 1)
        XCTAssertTrue(messages[0].contains(names[1]), messages[0])
        let root = try H5Group.open(file: path)
        XCTAssertEqual(try root.string(attribute: "training_config"), #"{"loss": "mse"}"#)
        let optimizer = try root.group("optimizer_weights")
        XCTAssertEqual(try optimizer.strings(attribute: "weight_names"), [names[0], names[2]])
        XCTAssertEqual(try optimizer.floats(dataset: names[0]).values, [42])
        XCTAssertEqual(try optimizer.floats(dataset: names[2]).values, bias.values.map { $0 + 1 })
        XCTAssertFalse(optimizer.has(names[1]))
        // The model itself is intact, its Dropout (with its rate) included.
        let back = try KerasReader.read(path: path)
        XCTAssertEqual(back.graph.nodes.map(\.opType), model.graph.nodes.map(\.opType))
        XCTAssertEqual(try XCTUnwrap(back.graph.initializers.first { $0.name == "drop.ratio" }).floats(), [0.5])
    }

    /// A Keras file written back keeps the layer classes it had (what fine-tuning relies on): Dropout
    /// with its rate, ReLU(max_value 6) and Dense's softmax activation rather than a Softmax layer.
    func testSequentialLayersWriteBackAsTheyWere() throws {
        let plan = try KerasExporter(try KerasReader.read(path: kerasFixture("k2_sequential.h5"))).plan()
        let layer = { (name: String) in plan.layers.first { $0.name == name } }
        XCTAssertEqual(plan.layers.map(\.name), ["input_1", "conv_a", "bn_a", "pool_a", "dw", "relu6", "avg_same", "conv_b",
                                                 "flatten", "drop", "logits"])
        XCTAssertEqual(layer("relu6")?.className, "ReLU")
        XCTAssertEqual(layer("relu6")?.config["max_value"] as? Double, 6)
        XCTAssertEqual(layer("drop")?.className, "Dropout")
        XCTAssertEqual(layer("drop")?.config["rate"] as? Double, 0.5)
        XCTAssertEqual(layer("logits")?.config["activation"] as? String, "softmax")
    }

    /// A shared layer (one Keras layer called several times) is written back as one layer with one
    /// inbound node per call and its weights once, in both containers, and reads back the same.
    func testSharedLayersWriteBackShared() throws {
        let dir = try temporaryDirectory(self)
        let names = ["img", "stem", "shared_conv", "branch", "sum", "gap", "shared_dense", "cat", "head"]
        let calls = ["img": 0, "shared_conv": 3, "shared_dense": 2]
        for source in ["k2_shared.h5", "k3_shared.keras"] {
            let first = try KerasReader.read(path: kerasFixture(source))
            for (ext, container) in [("h5", KerasWriter.Container.legacyH5), ("keras", .kerasZip)] {
                let path = dir.appendingPathComponent("\(source).\(ext)").path
                try KerasWriter.write(first, to: path, as: container)
                let label = "\(source) → .\(ext)"
                let layers: [[String: Any]]
                var stored: [String: [[Int]]] = [:]
                if container == .legacyH5 {
                    layers = try configLayers(try jsonAttribute(path, "model_config"))
                    let weights = try H5Group.open(file: path).group("model_weights")
                    XCTAssertEqual(try weights.strings(attribute: "layer_names"), names, label)
                    for name in names {
                        let group = try weights.group(name)
                        stored[name] = try (group.strings(attribute: "weight_names") ?? []).map { try group.floats(dataset: $0).dims }
                    }
                } else {
                    let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
                    var config = Data(), weights = Data()
                    _ = try archive.extract(try XCTUnwrap(archive["config.json"])) { config.append($0) }
                    _ = try archive.extract(try XCTUnwrap(archive["model.weights.h5"])) { weights.append($0) }
                    let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: config) as? [String: Any])
                    layers = try configLayers(root)
                    let file = dir.appendingPathComponent("\(source).weights.h5")
                    try weights.write(to: file)
                    let groups = try H5Group.open(file: file.path).group("layers")
                    for child in try groups.childNames() {
                        let vars = try groups.group(child + "/vars")
                        let name = try XCTUnwrap(try vars.string(attribute: "name"), label)
                        stored[name] = try (0..<vars.childNames().count).map { try vars.floats(dataset: String($0)).dims }
                    }
                    // Keras 3 names weight groups by class in model.layers order.
                    XCTAssertEqual(Set(try groups.childNames()), ["input_layer", "conv2d", "conv2d_1", "activation", "add",
                                                                 "global_average_pooling2d", "dense", "dense_1", "concatenate"], label)
                }
                XCTAssertEqual(layers.map { $0["name"] as! String }, names, label)
                for layer in layers {
                    let name = layer["name"] as! String
                    XCTAssertEqual((layer["inbound_nodes"] as? [Any])?.count, calls[name] ?? 1, "\(label) \(name)")
                }
                XCTAssertEqual(stored["shared_conv"], [[3, 3, 4, 4], [4]], label)
                XCTAssertEqual(stored["shared_dense"], [[4, 4], [4]], label)
                // Keras's count_params() of the source: stem, shared conv, shared dense and head, each once.
                XCTAssertEqual(stored.values.joined().map { $0.reduce(1, *) }.reduce(0, +), 16 + 148 + 20 + 18, label)

                // Read back: the same nodes (one per call), the same weights once, the same function.
                let back = try KerasReader.read(path: path)
                XCTAssertEqual(back.graph.nodes.map(\.name), first.graph.nodes.map(\.name), label)
                XCTAssertEqual(back.graph.initializers.reduce(0) { $0 + $1.elementCount }, 16 + 148 + 20 + 18, label)
                let x = sampleInput(2 * 8 * 8 * 3)
                XCTAssertLessThanOrEqual(maxDifference(try evaluate(back, shape: [2, 8, 8, 3], x),
                                                       try evaluate(first, shape: [2, 8, 8, 3], x)), 1e-5, label)
            }
        }
    }

    /// Layers are one when their nodes read the very same initializers (tied weights), not when the
    /// values merely agree (two fresh BatchNorms), nor when the attributes differ.
    func testSharingGoesByInitializerNotByValue() throws {
        let w = Tensor(name: "w", floats: sampleInput(3 * 3 * 3 * 3, seed: 5), dims: [3, 3, 3, 3])
        var bn: [Tensor] = []
        for i in 0..<2 {
            for (role, v) in [("scale", Float(1)), ("bias", 0), ("mean", 0), ("var", 1)] {
                bn.append(Tensor(name: "bn\(i).\(role)", floats: [v, v, v], dims: [3]))
            }
        }
        func conv(_ name: String, _ x: String, _ y: String, stride: Int64 = 1) -> Node {
            let pad: Int64 = stride == 1 ? 1 : 0  // 'same' and 'valid', so no ZeroPadding2D
            return Node(name: name, opType: "Conv", inputs: [x, "w"], outputs: [y],
                        attributes: [Attribute("pads", .ints([pad, pad, pad, pad])), Attribute("strides", .ints([stride, stride]))])
        }
        func norm(_ i: Int, _ x: String, _ y: String) -> Node {
            Node(name: "bn\(i)", opType: "BatchNormalization", inputs: [x] + ["scale", "bias", "mean", "var"].map { "bn\(i).\($0)" },
                 outputs: [y])
        }
        let t = TensorType(.float, Shape([.symbol("N"), .fixed(3), .fixed(8), .fixed(8)]))
        let graph = Graph(name: "g", nodes: [conv("c", "x", "a"), norm(0, "a", "b"), conv("c_1", "b", "d"), norm(1, "d", "e"),
                                             conv("strided", "e", "y", stride: 2)],
                          inputs: [ValueInfo(name: "x", tensor: t)], outputs: [ValueInfo(name: "y")], initializers: [w] + bn)
        let model = Model(graph: graph)
        let plan = try KerasExporter(model).plan()
        XCTAssertEqual(plan.layers.map(\.name), ["x", "c", "bn0", "bn1", "strided"])
        XCTAssertEqual(plan.layers.map(\.calls.count), [1, 2, 1, 1, 1])
        XCTAssertEqual(plan.layers[1].calls[1].inputs, [KerasTensorRef(layer: "bn0", node: 0)])
        XCTAssertEqual(plan.layers[3].calls[0].inputs, [KerasTensorRef(layer: "c", node: 1)])

        let path = try temporaryDirectory(self).appendingPathComponent("tied.h5").path
        try KerasWriter.write(model, to: path, as: .legacyH5)
        let back = try KerasReader.read(path: path, nchwInput: true)
        let x = sampleInput(192)
        let ref = try evaluate(model, shape: [1, 3, 8, 8], x)
        XCTAssertLessThanOrEqual(maxDifference(try evaluate(back, shape: [1, 3, 8, 8], x), toNHWC(ref, [1, 3, 3, 3])), 1e-5)
    }

    func testNameSanitising() {
        XCTAssertEqual(KerasExporter.sanitize("/features/features.0/Conv"), "features_features_0_Conv")
        XCTAssertEqual(KerasExporter.sanitize("conv_a"), "conv_a")
        XCTAssertEqual(KerasExporter.sanitize("///"), "layer")
    }

    func testWriterRegistryHasNoDuplicateKeys() {
        let total = KerasLayers.exporterFamilies.map(\.count).reduce(0, +)
        XCTAssertEqual(KerasLayers.exporters.count, total)
    }
}
