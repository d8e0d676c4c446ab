import ModelIR

/// Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate.
enum MergingLayers {
    static let mappings: [String: LayerMapping] = [
        "Add": .noWeights { try elementwise($0, .sum, pairwise: .add) },
        "Subtract": .noWeights { try elementwise($0, .sub, pairwise: .sub) },
        "Multiply": .noWeights { try elementwise($0, .mul, pairwise: .mul) },
        "Average": .noWeights { try elementwise($0, .mean, pairwise: .mean) },
        "Maximum": .noWeights { try elementwise($0, .max, pairwise: .max) },
        "Minimum": .noWeights { try elementwise($0, .min, pairwise: .min) },
        "Concatenate": .noWeights(concatenate),
    ]

    /// Inputs flattened the same way may stay in the IR's order; otherwise all go to Keras's order.
    static func aligned(_ call: LayerCall) -> [KTensor] {
        let first = call.inputs.first?.flattenedFrom
        if call.inputs.allSatisfy({ $0.flattenedFrom == first }) { return call.inputs }
        return call.inputs.map { call.builder.kerasOrder($0, for: call.name) }
    }

    /// Two inputs use the binary operator (Add, Sub…), more use the variadic one (Sum, Mean…).
    static func elementwise(_ call: LayerCall, _ variadic: OpKind, pairwise: OpKind) throws -> KTensor {
        let inputs = aligned(call)
        guard inputs.count >= 2 else { throw call.error("expects at least two inputs") }
        if variadic == .sub && inputs.count != 2 { throw call.error("Subtract expects exactly two inputs") }
        var y = inputs[0]
        y.name = call.builder.add(inputs.count == 2 ? pairwise : variadic, name: call.name, inputs: inputs.map(\.name),
                                  output: call.output)
        return y
    }

    static func concatenate(_ call: LayerCall) throws -> KTensor {
        let inputs = call.inputs.map { call.builder.kerasOrder($0, for: call.name) }
        guard let first = inputs.first, inputs.allSatisfy({ $0.rank == first.rank }) else {
            throw call.error("expects inputs of one rank")
        }
        let keras = try call.config.int("axis", default: -1)
        guard let axis = KerasGraphBuilder.irAxis(keras, rank: first.rank) else { throw call.error("axis \(keras) is out of range") }
        let k = keras < 0 ? keras + first.rank - 1 : keras - 1  // index into shape (no batch)
        var shape = first.shape
        shape[k] = inputs.reduce(Optional(0)) { total, t in total.flatMap { a in t.shape[k].map { a + $0 } } }
        let out = call.builder.add(.concat, name: call.name, inputs: inputs.map(\.name), output: call.output,
                                   [Attribute("axis", .int(Int64(axis)))])
        return KTensor(name: out, shape: shape)
    }
}
