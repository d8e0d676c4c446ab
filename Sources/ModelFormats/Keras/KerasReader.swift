import Foundation
import ModelIR
import ZIPFoundation

/// Reads Keras model files into the IR: Keras 2 / Keras 3 legacy `.h5`, Keras 3 `.keras` zips, and
/// weights-only files together with their `to_json()` config.
///
/// The graph is channels-first (ONNX style). By default its input keeps Keras's channels-last
/// signature through a leading Transpose, and channels-last outputs are transposed back, so the
/// model computes exactly what Keras computes. Node names are the Keras layer names.
public enum KerasReader {
    /// Reads `path`. `configPath` names a `to_json()` file for weights-only `.h5` files (and
    /// overrides a full file's own config). `nchwInput` makes the graph input channels-first.
    public static func read(path: String, configPath: String? = nil, nchwInput: Bool = false) throws -> Model {
        if try isZip(path) { return try readZip(path: path, configPath: configPath, nchwInput: nchwInput) }
        let root = try H5Group.open(file: path)
        let configText: String
        let source: String
        if let configPath {
            configText = try readText(configPath)
            source = configPath
        } else if let text = try root.string(attribute: "model_config") {
            configText = text
            source = path
        } else if root.hasAttribute("layer_names") || root.hasAttribute("layer_names0") || root.has("layers") {
            throw ModelError("\(path): a weights-only Keras file; give its architecture with --config model.json (the model's to_json())")
        } else {
            throw ModelError("\(path): not a Keras model file (no model_config attribute and no Keras weights)")
        }
        let config = try KerasModelConfig.parse(configText, source: source)
        let version = try root.string(attribute: "keras_version") ?? ""
        let store = try KerasWeightStore.open(root, model: config)
        var metadata: [(key: String, value: String)] = [("keras_version", version)]
        if let backend = try root.string(attribute: "backend") { metadata.append(("keras_backend", backend)) }
        if let training = try root.string(attribute: "training_config") { metadata.append(("keras_training_config", training)) }
        let isKeras3 = version.hasPrefix("3") || (version.isEmpty && root.has("layers"))
        return try build(config, store: store, file: path, isKeras3: isKeras3, nchwInput: nchwInput, metadata: metadata)
    }

    private static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError("\(path): cannot be read") }
        return String(decoding: data, as: UTF8.self)
    }

    private static func isZip(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ModelError("\(path): cannot be opened") }
        defer { try? handle.close() }
        return handle.readData(ofLength: 4) == Data([0x50, 0x4B, 0x03, 0x04])
    }

    /// A Keras 3 `.keras` zip: config.json, metadata.json and model.weights.h5 (extracted to a
    /// temporary file, since libhdf5 reads files).
    private static func readZip(path: String, configPath: String?, nchwInput: Bool) throws -> Model {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw ModelError("\(path): not a readable zip archive")
        }
        func member(_ name: String) throws -> Data {
            guard let entry = archive[name] else { throw ModelError("\(path): the .keras archive has no \(name)") }
            let declared = try checkedSize(of: entry, name: name, archive: path)
            var data = Data()
            do {
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    // A zip bomb may lie about its size: stop at the declared one, not the stream's end.
                    guard data.count + chunk.count <= declared else { throw ZipBomb() }
                    data.append(chunk)
                }
            } catch is ZipBomb {
                throw ModelError("\(path): \(name) inflates past its declared \(declared) bytes (a zip bomb?)")
            } catch {
                throw ModelError("\(path): \(name) cannot be extracted (damaged archive?)")
            }
            return data
        }
        let configText = try configPath.map(readText) ?? String(decoding: try member("config.json"), as: UTF8.self)
        var version = ""
        if let meta = try? member("metadata.json"),
           let object = (try? JSONSerialization.jsonObject(with: meta)) as? [String: Any] {
            version = (object["keras_version"] as? String) ?? ""
        }
        let weights = try member("model.weights.h5")
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("modeltool-\(UUID().uuidString).weights.h5")
        guard FileManager.default.createFile(atPath: temp.path, contents: weights) else {
            throw ModelError("\(path): cannot write a temporary copy of model.weights.h5")
        }
        defer { try? FileManager.default.removeItem(at: temp) }
        let config = try KerasModelConfig.parse(configText, source: "\(path)/config.json")
        let root = try H5Group.open(file: temp.path)
        let store: KerasWeightStore
        do { store = try KerasWeightStore.open(root, model: config) } catch let e as ModelError {
            throw ModelError(e.message.replacingOccurrences(of: temp.path, with: "\(path)/model.weights.h5"))
        }
        // Keras 3 keeps a compiled, trained model's optimizer variables under optimizer/vars.
        let optimizer = root.has("optimizer/vars") && !((try? root.group("optimizer/vars").childNames().isEmpty) ?? true)
        return try build(config, store: store, file: "\(path)/model.weights.h5", isKeras3: true, nchwInput: nchwInput,
                         metadata: [("keras_version", version)] + (optimizer ? [(KerasWriter.optimizerStateKey, "true")] : []))
    }

    private struct ZipBomb: Error {}

    /// Text members (config.json, metadata.json) larger than this are refused.
    static let textMemberLimit = 64 << 20

    /// An archive member's declared size, refused before inflating when deflate cannot produce it
    /// from the compressed size (about 1032:1 at most), or when a text member is absurdly large.
    private static func checkedSize(of entry: Entry, name: String, archive path: String) throws -> Int {
        let declared = Int(clamping: entry.uncompressedSize), compressed = Int(clamping: entry.compressedSize)
        let (bound, overflow) = compressed.multipliedReportingOverflow(by: 1032)
        if !overflow, declared > bound + 1024 {
            throw ModelError("\(path): \(name) claims \(declared) bytes from \(compressed) compressed bytes, which deflate cannot produce")
        }
        if name.hasSuffix(".json"), declared > textMemberLimit {
            throw ModelError("\(path): \(name) is \(declared) bytes, over the \(textMemberLimit >> 20) MiB allowed for a config")
        }
        return declared
    }

    /// Maps every layer call once its inputs exist, then wires the graph's inputs and outputs.
    static func build(_ config: KerasModelConfig, store: KerasWeightStore, file: String, isKeras3: Bool, nchwInput: Bool,
                      metadata: [(key: String, value: String)]) throws -> Model {
        let unsupported = config.layers.compactMap { layer in
            layer.className == "InputLayer" ? nil : KerasLayers.unsupported(layer).map { "\(layer.name) (\($0))" }
        }
        if !unsupported.isEmpty {
            let list = unsupported.joined(separator: ", ")
            throw ModelError("\(file): unsupported Keras layers: \(list)")
        }
        let b = KerasGraphBuilder()
        var tensors: [TensorRef: KTensor] = [:]
        var inputs: [ValueInfo] = []
        for layer in config.layers where layer.className == "InputLayer" {
            let c = layer.config
            guard let batchShape = c.shape("batch_input_shape") ?? c.shape("batch_shape"), !batchShape.isEmpty else {
                throw ModelError("\(file): input '\(layer.name)' has no batch_input_shape / batch_shape")
            }
            let shape = Array(batchShape.dropFirst())
            let rank = shape.count + 1
            let name = b.unique(layer.name)
            let dims: [Int?] = rank >= 3 && nchwInput ? [shape.last!] + shape.dropLast() : shape
            inputs.append(ValueInfo(name: name, tensor: TensorType(.float, Shape([Dim.symbol("N")] + dims.map { $0.map(Dim.fixed) ?? .unknown }))))
            var value = name
            if rank >= 3 && !nchwInput {
                value = b.add(.transpose, name: "\(layer.name)/to_nchw", inputs: [name],
                              [Attribute("perm", .ints(KerasGraphBuilder.toChannelsFirst(rank: rank)))])
            }
            tensors[TensorRef(layer: layer.name, node: 0, tensor: 0)] = KTensor(name: value, shape: shape)
        }
        var pending = config.layers.filter { $0.className != "InputLayer" }.flatMap { layer in
            layer.calls.indices.map { (layer, $0) }
        }
        var weightCache: [String: [String: WeightArray]] = [:]
        while !pending.isEmpty {
            let before = pending.count
            var waiting: [(KerasLayer, Int)] = []
            for (layer, index) in pending {
                let refs = layer.calls[index]
                guard refs.allSatisfy({ tensors[$0] != nil }) else {
                    waiting.append((layer, index))
                    continue
                }
                let mapping = KerasLayers.all[layer.className]!
                if weightCache[layer.name] == nil {
                    weightCache[layer.name] = try weights(for: layer, mapping: mapping, store: store, file: file)
                }
                let name = index == 0 ? layer.name : "\(layer.name)_\(index)"
                b.sharingScope = .init(layer: layer.name, callName: name, index: index)
                defer { b.sharingScope = nil }
                let call = LayerCall(layer: layer, inputs: refs.map { tensors[$0]! }, weights: weightCache[layer.name]!,
                                     builder: b, name: name, output: b.unique(name), isKeras3: isKeras3,
                                     arguments: index < layer.arguments.count ? layer.arguments[index] : [:])
                do { tensors[TensorRef(layer: layer.name, node: index, tensor: 0)] = try mapping.map(call) } catch let e as ModelError {
                    throw e.at(file)
                }
            }
            pending = waiting
            if pending.count == before {
                let missing = pending.flatMap { $0.0.calls[$0.1] }.filter { tensors[$0] == nil }.map(\.description)
                throw ModelError("\(file): the model config refers to tensors no layer produces: \(Set(missing).sorted().joined(separator: ", "))")
            }
        }
        var outputs: [ValueInfo] = []
        for ref in config.outputs {
            guard var t = tensors[ref] else { throw ModelError("\(file): model output \(ref) is not produced by any layer") }
            t = b.kerasOrder(t, for: ref.layer)
            if t.rank >= 3 {
                t.name = b.add(.transpose, name: "\(ref.layer)/to_nhwc", inputs: [t.name], output: b.unique("\(ref.layer)_nhwc"),
                               [Attribute("perm", .ints(KerasGraphBuilder.toChannelsLast(rank: t.rank)))])
            }
            let shape = Shape([Dim.symbol("N")] + t.shape.map { $0.map(Dim.fixed) ?? .unknown })
            outputs.append(ValueInfo(name: t.name, tensor: TensorType(.float, shape)))
        }
        let graph = Graph(name: config.name, nodes: b.nodes, inputs: inputs, outputs: outputs, initializers: b.initializers)
        do { try graph.verify() } catch let e as ModelError { throw e.at(file) }
        return Model(irVersion: 8, opsetImports: [OpsetImport(domain: "", version: 17)], producerName: "modeltool",
                     producerVersion: "keras", metadata: metadata, graph: graph)
    }

    /// The layer's stored weights by the names its config implies; the counts must agree.
    private static func weights(for layer: KerasLayer, mapping: LayerMapping, store: KerasWeightStore,
                                file: String) throws -> [String: WeightArray] {
        let names = try mapping.weightNames(layer.config)
        let stored = try store.weights(for: layer.name)
        guard stored.count == names.count else {
            throw ModelError("\(file): layer '\(layer.name)' (\(layer.className)) has \(stored.count) stored weights but its config implies \(names.count) (\(names.joined(separator: ", ")))")
        }
        return Dictionary(uniqueKeysWithValues: zip(names, stored))
    }
}
