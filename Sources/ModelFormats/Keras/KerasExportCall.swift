import ModelIR

/// One IR node being written as Keras layers: typed access to its inputs, constants and shapes.
struct KerasExportCall {
    let node: Node
    let index: Int
    let exporter: KerasExporter

    var name: String { node.name.isEmpty ? node.outputs[0] : node.name }
    var output: String { node.outputs[0] }

    /// The Keras value of data input `i`.
    func input(_ i: Int) throws -> KerasValue {
        guard let name = node.input(i), let v = exporter.value(name) else { throw ModelError("input \(i) is not a mapped tensor") }
        return v
    }

    /// Data input `i` with a channels-first 4-D (or 3-D) layout.
    func channelsFirstInput(_ i: Int = 0) throws -> KerasValue {
        let v = try input(i)
        guard v.layout == .channelsFirst else { throw ModelError("expects a channels-first image tensor") }
        return v
    }

    /// Constant input `i` (an initializer or a folded Constant), or nil.
    func constant(_ i: Int) -> Tensor? { node.input(i).flatMap { exporter.constant($0) } }

    func requireConstant(_ i: Int, _ what: String) throws -> Tensor {
        guard let t = constant(i) else { throw ModelError("\(what) (input \(i)) must be a constant") }
        return t
    }

    /// A scalar constant (any shape with one element).
    func scalar(_ i: Int) -> Float? {
        guard let t = constant(i), t.elementCount == 1, let v = try? t.floats() else { return nil }
        return v[0]
    }

    /// The IR shape of a value when every dimension after the batch is known.
    func irShape(_ value: String) -> [Int?]? { exporter.types[value]?.shape.map { $0.dims.map(\.value) } }

    /// Binds the node's output to `value`.
    func bind(_ value: KerasValue) { exporter.bind(output, value) }

    /// The only consumer of this node's output when there is exactly one and the output is not a graph output.
    func soleConsumer() -> (index: Int, node: Node)? {
        guard !exporter.graph.outputs.contains(where: { $0.name == output }),
              let readers = exporter.consumers[output], readers.count == 1 else { return nil }
        return (readers[0], exporter.graph.nodes[readers[0]])
    }

    /// A following activation the reader split off this layer (named `<layer>/<activation>`), to
    /// fuse back as the layer's `activation`; it is marked absorbed and its output bound by the caller.
    func fusableActivation() -> (name: String, output: String)? {
        guard let (i, next) = soleConsumer(), next.name.hasPrefix(name + "/"),
              let activation = ActivationLayers.kerasName(of: next, exporter: exporter) else { return nil }
        exporter.absorbed.insert(i)
        return (activation, next.outputs[0])
    }

    /// The output's Keras value bound to the node output (or to a fused activation's output).
    func finish(_ value: KerasValue, fused: (name: String, output: String)?) {
        bind(value)
        if let fused { exporter.bind(fused.output, value) }
    }
}

/// How one IR operator is written as Keras layers.
typealias KerasNodeExporter = (KerasExportCall) throws -> Void

extension KerasLayers {
    /// The writer's registry: IR operators the Keras writer maps, by family. Keys are unique across
    /// the family tables (checked by a test).
    static let exporterFamilies: [[OpKind: KerasNodeExporter]] = [
        ConvolutionLayers.exporters, PoolingLayers.exporters, CoreLayers.exporters, NormalizationLayers.exporters,
        ActivationLayers.exporters, MergingLayers.exporters, TransposedConvolutionLayers.exporters,
        CroppingLayers.exporters,
    ]

    static let exporters: [OpKind: KerasNodeExporter] = exporterFamilies.reduce(into: [:]) { all, family in
        all.merge(family) { first, _ in first }
    }
}

/// Window arithmetic shared by the convolution and pooling writers.
enum KerasLayoutMath {
    /// IR pads [b0, b1, …, e0, e1, …] → Keras 'valid'/'same' when they match, else nil.
    static func padding(pads: [Int], input: [Int?], kernel: [Int], strides: [Int], dilations: [Int]) -> String? {
        let n = kernel.count
        if pads.allSatisfy({ $0 == 0 }) { return "valid" }
        var same: [Int] = []
        var ends: [Int] = []
        for i in 0..<n {
            guard let size = input[i] else { return nil }
            let out = (size + strides[i] - 1) / strides[i]
            let span = (kernel[i] - 1) * dilations[i] + 1
            let total = max((out - 1) * strides[i] + span - size, 0)
            same.append(total / 2)
            ends.append(total - total / 2)
        }
        return pads == same + ends ? "same" : nil
    }

    /// The IR node's pads (explicit, or from auto_pad), begin… then end….
    static func pads(_ node: Node, input: [Int?], kernel: [Int], strides: [Int], dilations: [Int]) throws -> [Int] {
        let n = kernel.count
        let window = try WindowAttributes(node)
        switch window.autoPad {
        case .notSet: return window.pads(rank: n)
        case .valid: return [Int](repeating: 0, count: 2 * n)
        case .sameUpper, .sameLower:
            var begin: [Int] = [], end: [Int] = []
            for i in 0..<n {
                guard let size = input[i] else { throw ModelError("auto_pad needs known spatial sizes") }
                let out = (size + strides[i] - 1) / strides[i]
                let total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
                let small = total / 2, large = total - small
                begin.append(window.autoPad == .sameUpper ? small : large)
                end.append(window.autoPad == .sameUpper ? large : small)
            }
            return begin + end
        }
    }

    /// Output size of a window along one axis (floor mode).
    static func outputSize(_ size: Int?, kernel: Int, stride: Int, dilation: Int, padBegin: Int, padEnd: Int) -> Int? {
        size.map { ($0 + padBegin + padEnd - ((kernel - 1) * dilation + 1)) / stride + 1 }
    }
}
