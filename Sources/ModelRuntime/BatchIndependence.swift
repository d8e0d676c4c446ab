import ModelIR

/// Decides whether a graph treats every sample of a batch on its own, so that slices of a batch
/// may run through it separately and be joined (`Interpreter.run` does that with several threads).
///
/// Conservative by construction: every graph input must have a first dimension that is not
/// fixed, and every node either computes shapes only (it is fed, directly or not, by Shape nodes
/// and constants) or is an operator known to work per sample, with the attributes that make it
/// so (a Softmax or Concat not along axis 0, a Gemm whose B is a weight, …). Anything else keeps
/// the batch whole. `Interpreter` also checks, on every split run, that each output has one row
/// per sample of its slice.
enum BatchIndependence {
    /// `constant(name)` gives the value of a tensor known at plan time (an initializer or a
    /// folded node), nil for data.
    static func holds(for graph: Graph, steps: [Node], opset: Int, constant: (String) -> RuntimeTensor?) -> Bool {
        let initializers = Set(graph.initializers.map(\.name))
        for input in graph.inputs where !initializers.contains(input.name) {
            guard let shape = input.tensorType?.shape, shape.rank >= 1, shape.dims[0].value == nil else { return false }
        }
        func isConstant(_ name: String) -> Bool { name.isEmpty || constant(name) != nil }
        var shapeData = Set<String>()
        for node in steps {
            let data = node.inputs.filter { !$0.isEmpty }
            if node.kind?.sampleIndependence == .readsShapeOnly
                || (!data.isEmpty && data.allSatisfy { shapeData.contains($0) || isConstant($0) }) {
                shapeData.formUnion(node.outputs)
                continue
            }
            guard let kind = node.kind, perSample(node, kind, opset: Int64(opset), isConstant, constant) else { return false }
        }
        return true
    }

    /// Whether `node`, fed per-sample data in its first input, keeps samples apart
    /// (`OpKind.sampleIndependence`, with the attributes that decide it).
    private static func perSample(_ node: Node, _ kind: OpKind, opset: Int64, _ isConstant: (String) -> Bool,
                                  _ constant: (String) -> RuntimeTensor?) -> Bool {
        switch kind.sampleIndependence {
        case .always: return true
        case .readsShapeOnly, .no: return false
        case .dependsOnAttributes: break
        }
        let weights = node.inputs.dropFirst().allSatisfy(isConstant)
        switch kind {
        case .maxPool:
            // Its Indices count positions in the whole batch, not in a slice.
            return node.outputs.count < 2 || node.outputs[1].isEmpty
        case .batchNormalization:
            // In training mode the statistics would come from the batch itself.
            return !BatchNormalizationAttributes(node).trainingMode
        case .softmax, .logSoftmax:
            guard let axis = node.axis(opset: opset) else { return false }
            return axis >= 1 || axis == -1
        case .layerNormalization:
            guard let axis = node.axis(opset: opset) else { return false }
            return (axis >= 1 || axis == -1) && weights
        case .reshape:
            // A shape computed from the input's own Shape follows the slice; a constant one must
            // leave the first dimension free (0 copies it, −1 infers it).
            guard let target = node.input(1).flatMap(constant) else { return true }
            let first = target.int64s.first ?? 1
            return first == -1 || (first == 0 && !ReshapeAttributes(node).allowZero)
        case .flatten, .concat:
            guard let axis = node.axis(opset: opset) else { return false }
            return axis >= 1
        case .gemm:
            return !GemmAttributes(node).transA && weights
        case .matMul:
            return weights
        case .transpose:
            return node.ints("perm")?.first == 0
        default:
            // `sampleIndependence` lists no other operator as depending on attributes.
            return false
        }
    }
}
