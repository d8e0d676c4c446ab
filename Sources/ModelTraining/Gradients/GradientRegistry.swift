import ModelIR

/// Every operator's backward rule, by `OpKind`: the switch is exhaustive, so a new operator does
/// not compile until it states its gradient (or that it has none).
enum GradientRegistry {
    static func rule(_ kind: OpKind, node: Node, opset: Int) -> GradientRule {
        typealias A = ActivationGradients
        switch kind {
        case .conv: return ConvolutionGradients.conv
        case .convTranspose: return ConvolutionGradients.convTranspose
        case .maxPool:
            // Indices output: the values' gradient is still the window's argmax.
            return PoolingGradients.maxPool
        case .averagePool: return PoolingGradients.averagePool
        case .globalAveragePool: return PoolingGradients.globalAveragePool
        case .globalMaxPool: return PoolingGradients.globalMaxPool
        case .gemm: return GemmGradients.gemm
        case .matMul: return GemmGradients.matMul
        case .batchNormalization: return NormalizationGradients.batchNorm
        case .dropout: return NormalizationGradients.dropout
        case .relu: return A.relu
        case .leakyRelu: return A.leakyRelu(node)
        case .thresholdedRelu: return A.thresholdedRelu(node)
        case .pRelu: return A.pRelu
        case .elu: return A.elu(node)
        case .selu: return A.selu(node)
        case .clip: return A.clip(node, opset)
        case .sigmoid: return A.sigmoid
        case .hardSigmoid: return A.hardSigmoid(node)
        case .hardSwish: return A.hardSwish
        case .tanh: return A.tanh
        case .softplus: return A.softplus
        case .softsign: return A.softsign
        case .gelu: return A.gelu(node)
        case .erf: return A.erf
        case .softmax: return A.softmax(node, opset, log: false)
        case .logSoftmax: return A.softmax(node, opset, log: true)
        case .exp: return A.exp
        case .log: return A.log
        case .sqrt: return A.sqrt
        case .neg: return A.neg
        case .abs: return A.abs
        case .reciprocal: return A.reciprocal
        case .add, .sub, .sum, .mean: return ElementwiseGradients.linear(kind)
        case .mul: return ElementwiseGradients.mul
        case .div: return ElementwiseGradients.div
        case .flatten, .reshape, .squeeze, .unsqueeze, .identity, .cast:
            return DataMovementGradients.view
        case .transpose, .concat, .split, .slice, .gather, .expand, .tile, .pad:
            return DataMovementGradients.routed
        case .resize, .upsample:
            return DataMovementGradients.resize(node)
        // Shapes, constants, comparisons, logic and indices: integer results with no gradient.
        case .shape, .size, .constant, .constantOfShape,
             .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor, .range, .argMax, .argMin:
            return .constant
        case .lrn, .instanceNormalization, .layerNormalization, .pow, .max, .min, .shrink, .floor, .ceil, .sign,
             .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp, .ifThenElse, .loop, .scan,
             .where, .topK:
            return .unsupported
        }
    }

    /// The training forward of operators that behave differently while training.
    static func trainingForward(_ kind: OpKind, node: Node, opset: Int,
                                conventions: TrainingConventions = TrainingConventions()) -> TrainingForward? {
        switch kind {
        case .batchNormalization:
            return NormalizationGradients.batchNormForward(node, unbiasedRunningVariance: conventions.unbiasedRunningVariance)
        case .dropout: return NormalizationGradients.dropoutForward(node, opset)
        default: return nil
        }
    }
}

/// Where the frameworks differ in training mode, the convention a model follows: its own
/// framework's, so that fine-tuning continues the training it came from.
struct TrainingConventions {
    /// PyTorch feeds BatchNormalization's running variance the unbiased batch variance (n / (n − 1)
    /// times the biased one); Keras feeds it the biased one.
    var unbiasedRunningVariance = true

    /// The conventions of `model`'s framework: Keras for models read from Keras files (and ONNX
    /// files converted from them), PyTorch's otherwise.
    init(for model: Model) { unbiasedRunningVariance = !(model.producerName == "modeltool" && model.producerVersion == "keras") }

    init() {}
}
