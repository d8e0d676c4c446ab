import ModelIR

/// A Keras tensor as the IR holds it. Rank-3 and rank-4 tensors are channels-first in the IR;
/// `shape` keeps Keras's own channels-last sizes (without the batch) for the layer mappings.
struct KTensor {
    var name: String
    var shape: [Int?]
    /// Set when this rank-2 tensor is a Flatten of a channels-last `(spatial…, c)` tensor, flattened
    /// in the IR's channels-first order: consumers that care (Dense) permute their weights to match,
    /// others ask `KerasGraphBuilder.kerasOrder` for Keras's order.
    var flattenedFrom: [Int]?

    /// Rank including the batch.
    var rank: Int { shape.count + 1 }
    var channels: Int? { shape.last ?? nil }
    var spatial: [Int?] { Array(shape.dropLast()) }
}

/// Collects IR nodes and initializers while layers are mapped.
final class KerasGraphBuilder {
    private(set) var nodes: [Node] = []
    private(set) var initializers: [Tensor] = []
    private var values = Set<String>()
    private var nodeNames = Set<String>()
    /// The call being mapped: a float constant a later call of a layer makes is the one an earlier
    /// call made in the same role (`.weight`, `.bias`…) when the values are equal, so a shared
    /// layer's weights exist once. (They differ when, say, a shared Dense reads differently
    /// flattened inputs; then the call keeps its own copy.)
    struct CallScope { var layer: String, callName: String, index: Int }
    var sharingScope: CallScope?
    private var scoped: [String: [Int]] = [:]

    /// A value name: `base`, or `base_1`, `base_2`… when taken.
    func unique(_ base: String) -> String { Self.claim(base, in: &values) }

    private static func claim(_ base: String, in used: inout Set<String>) -> String {
        var name = base
        var n = 0
        while used.contains(name) {
            n += 1
            name = "\(base)_\(n)"
        }
        used.insert(name)
        return name
    }

    /// Appends a node and returns its output's name (`output`, or a fresh one from the node name).
    @discardableResult
    func add(_ op: OpKind, name: String, inputs: [String], output: String? = nil, _ attributes: [Attribute] = []) -> String {
        let nodeName = Self.claim(name, in: &nodeNames)
        let out = output ?? unique(nodeName + ":0")
        nodes.append(Node(name: nodeName, opType: op.rawValue, inputs: inputs, outputs: [out], attributes: attributes))
        return out
    }

    /// A float initializer; returns its name.
    func constant(_ name: String, _ values: [Float], dims: [Int]) -> String {
        let key = sharingScope.map { s in
            "\(s.layer)|\(name.hasPrefix(s.callName) ? String(name.dropFirst(s.callName.count)) : name)|\(dims)"
        }
        if let key, let s = sharingScope, s.index > 0 {
            for i in scoped[key] ?? [] {
                let t = initializers[i]
                // Bitwise, so -0 and NaN payloads are never swapped for another call's values.
                if let old = try? t.floats(), old.count == values.count,
                   zip(old, values).allSatisfy({ $0.bitPattern == $1.bitPattern }) { return t.name }
            }
        }
        let n = unique(name)
        if let key { scoped[key, default: []].append(initializers.count) }
        initializers.append(Tensor(name: n, floats: values, dims: dims))
        return n
    }

    func int64Constant(_ name: String, _ values: [Int64]) -> String {
        let n = unique(name)
        initializers.append(Tensor(name: n, int64s: values, dims: [values.count]))
        return n
    }

    /// Keras axis (negative allowed) of a tensor of `rank` → IR axis, channels-last → channels-first.
    static func irAxis(_ axis: Int, rank: Int) -> Int? {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else { return nil }
        if rank < 3 || a == 0 { return a }
        return a == rank - 1 ? 1 : a + 1
    }

    /// The permutation from channels-last to channels-first for `rank`, e.g. [0, 3, 1, 2].
    static func toChannelsFirst(rank: Int) -> [Int64] { [0, Int64(rank - 1)] + (1..<(rank - 1)).map(Int64.init) }
    static func toChannelsLast(rank: Int) -> [Int64] { [0] + (2..<rank).map(Int64.init) + [1] }

    /// The tensor with a flattened tensor's features back in Keras's (spatial…, c) order.
    func kerasOrder(_ t: KTensor, for layer: String) -> KTensor {
        guard let from = t.flattenedFrom else { return t }
        // With every spatial size 1 (MobileNetV3's Flatten of its 1×1 logits) both orders agree.
        if from.dropLast().allSatisfy({ $0 == 1 }) { return KTensor(name: t.name, shape: t.shape) }
        let c = from.last!, spatial = from.dropLast()
        let blocked = int64Constant("\(layer)/unflatten_shape", [-1, Int64(c)] + spatial.map(Int64.init))
        let unflat = add(.reshape, name: "\(layer)/unflatten", inputs: [t.name, blocked])
        let last = add(.transpose, name: "\(layer)/to_channels_last", inputs: [unflat],
                       [Attribute("perm", .ints(Self.toChannelsLast(rank: from.count + 1)))])
        let flat = add(.flatten, name: "\(layer)/reflatten", inputs: [last], [Attribute("axis", .int(1))])
        return KTensor(name: flat, shape: t.shape)
    }
}

/// Reorders `values` of an array with `dims` by `perm` (output axis i is input axis perm[i]).
func permuted(_ values: [Float], dims: [Int], perm: [Int]) -> [Float] {
    let rank = dims.count
    var strides = [Int](repeating: 1, count: rank)
    for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * dims[i + 1] }
    let outDims = perm.map { dims[$0] }
    let outStrides = perm.map { strides[$0] }
    var out = [Float](repeating: 0, count: values.count)
    var index = [Int](repeating: 0, count: rank)
    for o in 0..<values.count {
        var src = 0
        for a in 0..<rank { src += index[a] * outStrides[a] }
        out[o] = values[src]
        var a = rank - 1
        while a >= 0 {
            index[a] += 1
            if index[a] < outDims[a] { break }
            index[a] = 0
            a -= 1
        }
    }
    return out
}
