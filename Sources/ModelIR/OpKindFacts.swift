/// Facts about operators that several passes rely on, as data. Each is one exhaustive switch, so
/// a new `OpKind` case does not compile until someone decides every fact for it.
extension OpKind {
    /// How an operator's output channels (axis 1) relate to its inputs' channels.
    public enum ChannelFlow: Sendable {
        /// Output channel c is computed from channel c of the first input only (with the node's
        /// per-channel parameters, as for BatchNormalization scale or PRelu slope).
        case oneToOne
        /// Inputs are broadcast together: their channels are tied to each other and to the output.
        case tiedAcrossInputs
        /// Channels are created, mixed or moved; the channel rule of the op family decides.
        case familyRule
    }

    public var channelFlow: ChannelFlow {
        switch self {
        case .maxPool, .averagePool, .globalAveragePool, .globalMaxPool, .batchNormalization, .instanceNormalization,
             .relu, .leakyRelu, .thresholdedRelu, .pRelu, .elu, .selu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .tanh,
             .softplus, .softsign, .gelu, .erf, .shrink, .exp, .log, .sqrt, .neg, .abs, .reciprocal, .floor, .ceil, .sign,
             .identity, .dropout, .cast, .resize, .upsample:
            return .oneToOne
        case .add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean:
            return .tiedAcrossInputs
        // Softmax, LogSoftmax and LRN mix channels; shape operators' channel maps depend on attributes.
        case .conv, .convTranspose, .lrn, .gemm, .matMul, .layerNormalization, .softmax, .logSoftmax,
             .flatten, .reshape, .transpose, .squeeze, .unsqueeze, .concat, .split, .slice, .gather, .shape, .size,
             .expand, .tile, .constant, .constantOfShape, .pad,
             .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp, .ifThenElse, .loop, .scan,
             .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor, .where, .range, .argMax, .argMin, .topK:
            return .familyRule
        }
    }

    /// Whether every output element is a function of the input element at the same index alone
    /// (constant parameters aside), so the operator runs unchanged on any memory layout of its
    /// input, the channel-blocked one included.
    public var isElementwiseUnary: Bool {
        switch self {
        case .relu, .leakyRelu, .thresholdedRelu, .elu, .selu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .shrink, .tanh,
             .softplus, .softsign, .gelu, .erf, .exp, .log, .sqrt, .neg, .abs, .reciprocal, .floor, .ceil, .sign, .identity:
            return true
        // PRelu's slope broadcasts by position; Cast changes the element type; Dropout may write a mask.
        // Comparisons and logic produce int64 0/1, which a blocked float layout cannot hold.
        case .pRelu, .cast, .dropout,
             .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor, .where, .range, .argMax, .argMin, .topK:
            return false
        case .conv, .convTranspose, .maxPool, .averagePool, .globalAveragePool, .globalMaxPool, .lrn,
             .gemm, .matMul, .batchNormalization, .instanceNormalization, .layerNormalization, .softmax, .logSoftmax,
             .add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean,
             .flatten, .reshape, .transpose, .squeeze, .unsqueeze, .concat, .split, .slice, .gather, .shape, .size,
             .expand, .tile, .constant, .constantOfShape, .pad, .resize, .upsample,
             .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp, .ifThenElse, .loop, .scan:
            return false
        }
    }

    /// Whether an operator keeps the samples of a batch apart (each sample's outputs depend on
    /// that sample alone).
    public enum SampleIndependence: Sendable {
        /// Whatever its attributes, with any inputs after the first being weights or per-sample
        /// data of the same batch.
        case always
        /// With some attributes or constant inputs only (an axis other than the batch, a constant
        /// weight, inference mode…).
        case dependsOnAttributes
        /// It reads only its input's shape: its output is shape data.
        case readsShapeOnly
        /// Not known to.
        case no
    }

    public var sampleIndependence: SampleIndependence {
        switch self {
        case .conv, .convTranspose, .averagePool, .globalAveragePool, .globalMaxPool, .lrn, .instanceNormalization,
             .relu, .leakyRelu, .thresholdedRelu, .pRelu, .elu, .selu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .tanh,
             .softplus, .softsign, .gelu, .erf, .shrink,
             .add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean,
             .exp, .log, .sqrt, .neg, .abs, .reciprocal, .floor, .ceil, .sign,
             .identity, .dropout, .cast,
             .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor, .where:
            return .always
        case .maxPool, .batchNormalization, .layerNormalization, .softmax, .logSoftmax, .gemm, .matMul,
             .reshape, .flatten, .concat, .transpose:
            return .dependsOnAttributes
        case .shape:
            return .readsShapeOnly
        case .squeeze, .unsqueeze, .split, .slice, .gather, .size, .expand, .tile, .constant, .constantOfShape, .pad,
             .resize, .upsample,
             .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp, .ifThenElse, .loop, .scan, .range, .argMax, .argMin, .topK:
            return .no
        }
    }

    /// What an operator following a convolution becomes in the convolution's epilogue (the
    /// per-channel y = act(x·scale + shift) applied as the output is written).
    public enum ConvEpilogueRole: Sendable {
        /// A per-channel affine map (inference batch normalisation).
        case affine
        /// A clamp to a range (Relu, Clip).
        case clamp
        /// A smooth activation applied last (Sigmoid, HardSigmoid, HardSwish; SiLU as x·Sigmoid(x)).
        case activation
    }

    /// The operator's role in a convolution epilogue, nil when it cannot be fused into one.
    public var convEpilogueRole: ConvEpilogueRole? {
        switch self {
        case .batchNormalization:
            return .affine
        case .relu, .clip:
            return .clamp
        case .sigmoid, .hardSigmoid, .hardSwish:
            return .activation
        case .conv, .convTranspose, .maxPool, .averagePool, .globalAveragePool, .globalMaxPool, .lrn,
             .gemm, .matMul, .instanceNormalization, .layerNormalization,
             .leakyRelu, .thresholdedRelu, .pRelu, .elu, .selu, .tanh,
             .softplus, .softsign, .gelu, .erf, .softmax, .logSoftmax, .shrink,
             .add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean,
             .exp, .log, .sqrt, .neg, .abs, .reciprocal, .floor, .ceil, .sign,
             .flatten, .reshape, .transpose, .squeeze, .unsqueeze, .concat, .split, .slice, .gather, .shape, .size,
             .expand, .tile, .constant, .constantOfShape, .identity, .dropout, .cast, .pad, .resize, .upsample,
             .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp, .ifThenElse, .loop, .scan,
             .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor, .where, .range, .argMax, .argMin, .topK:
            return nil
        }
    }

    /// Whether APoZ counts the exact zeros of the operator's output by default: an activation
    /// whose output is exactly zero over a whole range of inputs. Those are the clamps of
    /// `convEpilogueRole` (Relu, and Clip when its lower bound is 0, i.e. ReLU6); LeakyRelu, Elu,
    /// HardSwish, Gelu and the like are rarely exactly zero and are observed by their off region
    /// instead (their input ≤ 0, see `ObservationPoints` in ModelRuntime).
    public var isApozActivation: Bool { convEpilogueRole == .clamp }
}
