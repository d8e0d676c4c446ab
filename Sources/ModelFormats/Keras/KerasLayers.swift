import ModelIR

/// One call of a Keras layer being mapped: its inputs (already in the IR), its stored weights by
/// name, and where to put its nodes.
struct LayerCall {
    let layer: KerasLayer
    let inputs: [KTensor]
    let weights: [String: WeightArray]
    let builder: KerasGraphBuilder
    /// The main node's name: the Keras layer name (with `_1`, `_2`… for later calls of a shared layer).
    let name: String
    /// The name the layer's output value gets.
    let output: String
    /// True for files written by Keras 3, whose defaults differ in places (hard_sigmoid, LeakyReLU).
    let isKeras3: Bool
    /// The call's keyword arguments (operands of TF-op layers).
    var arguments: [String: CallArgument] = [:]

    var config: LayerConfig { layer.config }

    func error(_ message: String) -> ModelError { ModelError("layer '\(layer.name)' (\(layer.className)): \(message)") }

    /// The only input.
    func single() throws -> KTensor {
        guard inputs.count == 1 else { throw error("expects one input, got \(inputs.count)") }
        return inputs[0]
    }

    /// A stored weight, checked against the shape the config implies (nil entries are not checked).
    func weight(_ key: String, _ expected: [Int?]) throws -> WeightArray {
        guard let w = weights[key] else { throw error("weight '\(key)' is missing") }
        let fits = w.dims.count == expected.count && zip(w.dims, expected).allSatisfy { $1 == nil || $0 == $1 }
        guard fits else {
            let want = "[" + expected.map { $0.map(String.init) ?? "?" }.joined(separator: ",") + "]"
            throw error("weight '\(key)' has shape \(w.dims) but the config implies \(want)")
        }
        return w
    }

    /// The output's value name when `last`, else a fresh intermediate name.
    func valueName(last: Bool, _ suffix: String) -> String? { last ? output : nil }
}

/// How one Keras layer class maps onto IR nodes.
struct LayerMapping {
    /// The weights Keras stores for a layer with this config, in storage order.
    let weightNames: (LayerConfig) throws -> [String]
    /// Emits the layer's nodes and returns its output.
    let map: (LayerCall) throws -> KTensor
    /// Why a layer of this class cannot be mapped with this config (e.g. a TF op without a
    /// mapping), checked for every layer before any is mapped so that all are reported at once.
    var unsupported: (LayerConfig) -> String? = { _ in nil }

    static func noWeights(_ map: @escaping (LayerCall) throws -> KTensor) -> LayerMapping {
        LayerMapping(weightNames: { _ in [] }, map: map)
    }
}

/// The registry of Keras layer classes the reader maps, keyed by `class_name`.
enum KerasLayers {
    /// Every supported class. Keys are unique across the family tables (checked by a test).
    static let families: [[String: LayerMapping]] = [
        ConvolutionLayers.mappings, PoolingLayers.mappings, CoreLayers.mappings, NormalizationLayers.mappings,
        ActivationLayers.mappings, MergingLayers.mappings, TransposedConvolutionLayers.mappings,
        TFOpLayers.mappings, CroppingLayers.mappings,
    ]

    /// Why `layer` cannot be read, or nil: an unknown class, or a config its class cannot map.
    static func unsupported(_ layer: KerasLayer) -> String? {
        guard let mapping = all[layer.className] else { return layer.className }
        return mapping.unsupported(layer.config).map { "\(layer.className) \($0)" }
    }

    static let all: [String: LayerMapping] = families.reduce(into: [:]) { all, family in
        all.merge(family) { first, _ in first }
    }
}
