import ModelIR

/// One stored weight array, float32, in Keras's own layout.
struct WeightArray {
    let dims: [Int]
    let values: [Float]
}

/// Finds each layer's weights, in the order Keras lists them, in the two HDF5 layouts Keras uses.
enum KerasWeightStore {
    /// Keras 2 and Keras 3 legacy `.h5` (under `/model_weights`) and Keras 2 `save_weights` (at the
    /// root): `layer_names`, and per layer `weight_names` naming datasets relative to the layer group.
    case legacy(H5Group)
    /// Keras 3 `model.weights.h5` / `.weights.h5`: `layers/<group>/vars/<i>`, keyed here by layer name.
    case keras3([String: H5Group])

    /// Picks the layout from the file's structure.
    static func open(_ root: H5Group, model: KerasModelConfig) throws -> KerasWeightStore {
        if root.has("model_weights") { return .legacy(try root.group("model_weights")) }
        if root.hasAttribute("layer_names") || root.hasAttribute("layer_names0") { return .legacy(root) }
        if root.has("layers") { return .keras3(try keras3Groups(try root.group("layers"), model: model)) }
        throw ModelError("\(root.file): no Keras weights found (no /model_weights, no layer_names, no /layers)")
    }

    /// Keras 3 names each group after the snake_case class with a counter (`conv2d`, `conv2d_1`…) in
    /// `model.layers` order; recent versions also store the layer's own name as the `vars` group's
    /// `name` attribute, which is used when present.
    private static func keras3Groups(_ layers: H5Group, model: KerasModelConfig) throws -> [String: H5Group] {
        var result: [String: H5Group] = [:]
        var counters: [String: Int] = [:]
        let skipInput = model.className == "Sequential"
        for layer in model.layers where !(skipInput && layer.className == "InputLayer") {
            let base = snakeCase(layer.className)
            let n = counters[base, default: 0]
            counters[base] = n + 1
            let guess = n == 0 ? base : "\(base)_\(n)"
            if layers.has(guess + "/vars") { result[layer.name] = try layers.group(guess + "/vars") }
        }
        for child in try layers.childNames() where layers.has(child + "/vars") {
            let vars = try layers.group(child + "/vars")
            if let name = try vars.string(attribute: "name") { result[name] = vars }
        }
        return result
    }

    /// Keras 3's `to_snake_case`: `DepthwiseConv2D` → `depthwise_conv2d`, `ReLU` → `re_lu`.
    static func snakeCase(_ name: String) -> String {
        let c = Array(name.filter { $0.isLetter || $0.isNumber || $0 == "_" })
        var out = ""
        for i in c.indices {
            let ch = c[i]
            // "(.)([A-Z][a-z]+)" then "([a-z])([A-Z])"
            if i > 0, ch.isUppercase {
                let nextLower = i + 1 < c.count && c[i + 1].isLowercase
                if nextLower || c[i - 1].isLowercase { out.append("_") }
            }
            out.append(ch)
        }
        return out.lowercased()
    }

    /// The weights stored for `layer`, in order; empty when the file stores none for it.
    func weights(for layer: String) throws -> [WeightArray] {
        switch self {
        case .legacy(let group):
            guard group.has(layer) else { return [] }
            let g = try group.group(layer)
            let names = try g.strings(attribute: "weight_names") ?? []
            return try names.map { name in
                let (dims, values) = try g.floats(dataset: name)
                return WeightArray(dims: dims, values: values)
            }
        case .keras3(let groups):
            guard let vars = groups[layer] else { return [] }
            let count = try vars.childNames().count
            return try (0..<count).map { i in
                let (dims, values) = try vars.floats(dataset: String(i))
                return WeightArray(dims: dims, values: values)
            }
        }
    }
}
