import Foundation
import ModelIR

/// BatchNormalization over the channel axis, with Keras's epsilon and momentum written explicitly
/// (Keras's defaults are 1e-3 and 0.99, ONNX's 1e-5 and 0.9). Both mean the same thing: running =
/// momentum · running + (1 − momentum) · batch, which fine-tuning applies.
enum NormalizationLayers {
    static let mappings: [String: LayerMapping] = [
        "BatchNormalization": LayerMapping(weightNames: { c in
            (c.bool("scale", default: true) ? ["gamma"] : []) + (c.bool("center", default: true) ? ["beta"] : [])
                + ["moving_mean", "moving_variance"]
        }, map: batchNorm),
        "Normalization": LayerMapping(weightNames: { c in c.has("mean") ? [] : ["mean", "variance", "count"] },
                                      map: normalization),
    ]

    /// Keras's `backend.epsilon()`, the floor of Normalization's standard deviation.
    static let normalizationEpsilon = 1e-7

    /// Normalization, (x − mean) / max(√variance, 1e-7) per channel, is a BatchNormalization with
    /// scale 1, bias 0, epsilon 0 and the variance floored at 1e-14: the same function. mean and
    /// variance are the layer's weights, or its config when given there (a number or a list).
    static func normalization(_ call: LayerCall) throws -> KTensor {
        let c = call.config
        let x = call.builder.kerasOrder(try call.single(), for: call.name)
        var axes: [Int] = []
        if let list = c.values["axis"] as? [Any] { axes = list.compactMap { ($0 as? NSNumber)?.intValue } } else if c.has("axis") { axes = [try c.int("axis")] } else { axes = [-1] }
        guard axes.count == 1, axes[0] == -1 || axes[0] == x.rank - 1, let channels = x.channels else {
            throw call.error("only normalisation over the last (channel) axis of a known size is supported (axis \(axes))")
        }
        guard !c.bool("invert", default: false) else { throw call.error("invert: true is not supported") }
        func values(_ key: String) throws -> [Float] {
            if c.has(key) {
                let flat = flatten(c.values[key] as Any)
                guard flat.count == 1 || flat.count == channels else { throw call.error("\(key) has \(flat.count) values for \(channels) channels") }
                return flat.count == 1 ? [Float](repeating: flat[0], count: channels) : flat
            }
            guard let w = call.weights[key], w.values.count == channels else {
                throw call.error("weight '\(key)' is missing or does not hold \(channels) values")
            }
            return w.values
        }
        let mean = try values("mean")
        let floor = Float(normalizationEpsilon * normalizationEpsilon)
        let variance = try values("variance").map { max($0, floor) }
        let b = call.builder, n = call.name
        let inputs = [x.name, b.constant("\(n).scale", [Float](repeating: 1, count: channels), dims: [channels]),
                      b.constant("\(n).bias", [Float](repeating: 0, count: channels), dims: [channels]),
                      b.constant("\(n).mean", mean, dims: [channels]), b.constant("\(n).var", variance, dims: [channels])]
        let out = b.add(.batchNormalization, name: n, inputs: inputs, output: call.output, [Attribute("epsilon", .float(0))])
        return KTensor(name: out, shape: x.shape)
    }

    private static func flatten(_ any: Any) -> [Float] {
        if let n = any as? NSNumber { return [n.floatValue] }
        if let list = any as? [Any] { return list.flatMap(flatten) }
        return []
    }

    static func batchNorm(_ call: LayerCall) throws -> KTensor {
        let c = call.config
        let x = call.builder.kerasOrder(try call.single(), for: call.name)
        let axis: Int
        if let list = c.values["axis"] as? [Any], list.count == 1, let a = list[0] as? Int { axis = a } else { axis = try c.int("axis", default: -1) }
        guard axis == -1 || axis == x.rank - 1, let channels = x.channels else {
            throw call.error("only normalisation over the last (channel) axis of a known size is supported (axis \(axis))")
        }
        let ones = [Float](repeating: 1, count: channels), zeros = [Float](repeating: 0, count: channels)
        let gamma = c.bool("scale", default: true) ? try call.weight("gamma", [channels]).values : ones
        let beta = c.bool("center", default: true) ? try call.weight("beta", [channels]).values : zeros
        let mean = try call.weight("moving_mean", [channels]).values
        let variance = try call.weight("moving_variance", [channels]).values
        let b = call.builder, n = call.name
        let inputs = [x.name, b.constant("\(n).scale", gamma, dims: [channels]), b.constant("\(n).bias", beta, dims: [channels]),
                      b.constant("\(n).mean", mean, dims: [channels]), b.constant("\(n).var", variance, dims: [channels])]
        let epsilon = try c.double("epsilon", default: 1e-3), momentum = try c.double("momentum", default: 0.99)
        let out = b.add(.batchNormalization, name: n, inputs: inputs, output: call.output,
                        [Attribute("epsilon", .float(Float(epsilon))), Attribute("momentum", .float(Float(momentum)))])
        return KTensor(name: out, shape: x.shape)
    }
}

// MARK: Writing

extension NormalizationLayers {
    static let exporters: [OpKind: KerasNodeExporter] = [.batchNormalization: exportBatchNorm]

    /// BatchNormalization over the channels (the last Keras axis), epsilon written explicitly.
    static func exportBatchNorm(_ call: KerasExportCall) throws {
        let x = try call.input(0)
        guard x.layout == .channelsFirst || (x.layout == .same && x.rank == 2), let channels = x.channels else {
            throw ModelError("only normalisation of the channel axis of a known size maps to BatchNormalization")
        }
        let names = ["gamma", "beta", "moving_mean", "moving_variance"]
        let weights = try (1...4).map { i -> KerasWeight in
            let t = try call.requireConstant(i, names[i - 1])
            guard t.elementCount == channels else { throw ModelError("\(names[i - 1]) has \(t.elementCount) values for \(channels) channels") }
            return KerasWeight(name: names[i - 1], dims: [channels], values: try t.floats())
        }
        let attributes = BatchNormalizationAttributes(call.node)
        if attributes.epsilon == 0, weights[0].values.allSatisfy({ $0 == 1 }), weights[1].values.allSatisfy({ $0 == 0 }),
           weights[3].values.allSatisfy({ $0 >= Float(normalizationEpsilon * normalizationEpsilon) }) {
            // What the reader made of a Normalization layer. tf_keras's fused BatchNormalization
            // raises epsilon to 1.001e-5, so the layer is written back as Normalization, with its
            // statistics in the config (both Keras versions then store no weights for it).
            let mean = weights[2].values.map { Double($0) }, variance = weights[3].values.map { Double($0) }
            call.bind(call.exporter.addLayer("Normalization", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                             config: ["axis": -1, "mean": mean, "variance": variance, "invert": false]))
            return
        }
        let epsilon = KerasModelPlan.decimal(attributes.epsilon), momentum = KerasModelPlan.decimal(attributes.momentum)
        let y = call.exporter.addLayer("BatchNormalization", name: call.name, inputs: [x], outputShape: x.shape, layout: x.layout,
                                       config: ["axis": -1, "epsilon": epsilon, "momentum": momentum, "center": true, "scale": true],
                                       weights: weights)
        call.bind(y)
    }
}
