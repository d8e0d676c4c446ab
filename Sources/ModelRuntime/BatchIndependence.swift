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
    /// Operators that map each sample to its own outputs whatever their attributes, with any
    /// inputs after the first being weights or per-sample data of the same batch.
    static let perSample: Set<String> = [
        "Conv", "ConvTranspose", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "LRN",
        "InstanceNormalization",
        "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
        "Softplus", "Softsign", "Gelu", "Erf", "ThresholdedRelu", "Mish",
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean",
        "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign",
        "Identity", "Dropout", "Cast",
    ]

    /// `constant(name)` gives the value of a tensor known at plan time (an initializer or a
    /// folded node), nil for data.
    static func holds(for graph: Graph, steps: [Node], constant: (String) -> RuntimeTensor?) -> Bool {
        let initializers = Set(graph.initializers.map(\.name))
        for input in graph.inputs where !initializers.contains(input.name) {
            guard let shape = input.tensorType?.shape, shape.rank >= 1, shape.dims[0].value == nil else { return false }
        }
        func isConstant(_ name: String) -> Bool { name.isEmpty || constant(name) != nil }
        var shapeData = Set<String>()
        for node in steps {
            let data = node.inputs.filter { !$0.isEmpty }
            if node.opType == "Shape" || (!data.isEmpty && data.allSatisfy { shapeData.contains($0) || isConstant($0) }) {
                shapeData.formUnion(node.outputs)
                continue
            }
            guard node.isDefaultDomain, perSample(node, isConstant, constant) else { return false }
        }
        return true
    }

    /// Whether `node`, fed per-sample data in its first input, keeps samples apart.
    private static func perSample(_ node: Node, _ isConstant: (String) -> Bool,
                                  _ constant: (String) -> RuntimeTensor?) -> Bool {
        let weights = node.inputs.dropFirst().allSatisfy(isConstant)
        switch node.opType {
        case _ where perSample.contains(node.opType):
            return true
        case "MaxPool":
            // Its Indices count positions in the whole batch, not in a slice.
            return node.outputs.count < 2 || node.outputs[1].isEmpty
        case "BatchNormalization":
            // In training mode the statistics would come from the batch itself.
            return node.int("training_mode", default: 0) == 0
        case "Softmax", "LogSoftmax", "Hardmax":
            let axis = node.int("axis", default: -1)
            return axis >= 1 || axis == -1
        case "LayerNormalization":
            let axis = node.int("axis", default: -1)
            return (axis >= 1 || axis == -1) && weights
        case "Reshape":
            // A shape computed from the input's own Shape follows the slice; a constant one must
            // leave the first dimension free (0 copies it, −1 infers it).
            guard let target = node.input(1).flatMap(constant) else { return true }
            let first = target.int64s.first ?? 1
            return first == -1 || (first == 0 && node.int("allowzero", default: 0) == 0)
        case "Flatten":
            return node.int("axis", default: 1) >= 1
        case "Concat":
            return node.int("axis", default: 0) >= 1
        case "Gemm":
            return node.int("transA", default: 0) == 0 && weights
        case "MatMul":
            return weights
        case "Transpose":
            return node.ints("perm")?.first == 0
        default:
            return false
        }
    }
}
