import ModelIR

/// The rule table: every operator says how its input channels relate to its output channels.
/// The switch is exhaustive, so a new `OpKind` case does not compile until it has a rule here.
extension ChannelAnalyzer {
    mutating func apply(_ node: Node) throws {
        // Nodes that read no channels (shape arithmetic, constants) have nothing to decide,
        // except producers, which create channels whatever feeds them.
        let producers: Set<OpKind> = [.conv, .convTranspose, .gemm, .matMul]
        if !dataInputs(node).contains(where: { maps[$0] != nil }), !(node.kind.map(producers.contains) ?? false) {
            return
        }
        guard node.isDefaultDomain, let kind = node.kind else {
            return stop(node, "operator \(node.domain.isEmpty ? "" : node.domain + ".")\(node.opType) has no channel rule")
        }
        switch kind {
        // Convolution.swift
        case .conv: convolution(node)
        case .convTranspose: convTranspose(node)
        // Pooling.swift
        case .maxPool, .averagePool, .globalAveragePool, .globalMaxPool: pooling(node)
        case .lrn: stop(node, "LRN normalises across channels")
        // Gemm.swift
        case .gemm: gemm(node)
        case .matMul: matMul(node)
        // Normalization.swift
        case .batchNormalization, .instanceNormalization: normalization(node)
        case .layerNormalization: layerNormalization(node)
        // Activation.swift
        case .relu, .leakyRelu, .thresholdedRelu, .elu, .selu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .tanh, .softplus,
             .softsign, .gelu, .erf, .shrink:
            unaryElementwise(node)
        case .pRelu: pRelu(node)
        case .softmax, .logSoftmax: softmax(node)
        // Elementwise.swift
        case .add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean: tiedElementwise(node)
        case .exp, .log, .sqrt, .neg, .abs, .reciprocal, .floor, .ceil, .sign: unaryElementwise(node)
        // DataMovement.swift
        case .identity, .dropout, .cast: unaryElementwise(node)
        case .flatten: flatten(node)
        case .reshape: reshape(node)
        case .transpose: transpose(node)
        case .squeeze, .unsqueeze: squeezeOrUnsqueeze(node, kind)
        case .concat: concat(node)
        case .split: split(node)
        case .slice: slice(node)
        case .pad: pad(node)
        case .resize, .upsample: resize(node)
        case .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp:
            reduce(node)
        case .shape, .size, .constant, .constantOfShape:
            return  // shapes and constants carry no channels
        case .gather: stop(node, "Gather on data is not followed")
        case .expand: stop(node, "Expand is not followed")
        case .tile: stop(node, "Tile is not followed")
        case .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor:
            stop(node, "comparisons and logic are not followed")
        case .where: stop(node, "Where is not followed")
        case .argMax, .argMin, .topK: stop(node, "\(kind.opType) selects by value across positions")
        case .range: return  // computed from scalars: no channels
        case .ifThenElse, .loop, .scan: stop(node, "control flow is not followed")
        }
    }

    /// Floating-point values (data) as opposed to integer shape computations.
    func isDataFloat(_ name: String) -> Bool { shapes[name]?.elementType.isFloatingPoint ?? false }

    /// "node (Op): reason" for barrier messages.
    func why(_ node: Node, _ reason: String) -> String { "\(node.displayName) (\(node.opType)): \(reason)" }
}
