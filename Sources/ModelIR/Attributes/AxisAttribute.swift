extension OpKind {
    /// The ONNX specification's default for the operator's `axis` attribute at default-domain
    /// `opset`; nil for operators without one.
    public func defaultAxis(opset: Int64) -> Int? {
        switch self {
        case .flatten: return 1
        // Before opset 13 the input is coerced to 2-D at `axis`; from 13 on it is the last axis.
        case .softmax, .logSoftmax: return opset < 13 ? 1 : -1
        case .layerNormalization: return -1
        case .gather, .split, .argMax, .argMin: return 0
        case .topK: return -1
        // Required from opset 4 on; files without it are read as opsets 1–3 define it.
        case .concat: return 1
        // Add/Sub/Mul/Div/Pow before opset 7 take an optional broadcast `axis` without a default.
        case .conv, .convTranspose, .maxPool, .averagePool, .globalAveragePool, .globalMaxPool, .lrn,
             .gemm, .matMul, .batchNormalization, .instanceNormalization,
             .relu, .leakyRelu, .thresholdedRelu, .pRelu, .elu, .selu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .tanh,
             .softplus, .softsign, .gelu, .erf, .shrink,
             .add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean,
             .exp, .log, .sqrt, .neg, .abs, .reciprocal, .floor, .ceil, .sign,
             .reshape, .transpose, .squeeze, .unsqueeze, .slice, .shape, .size,
             .expand, .tile, .constant, .constantOfShape, .identity, .dropout, .cast, .pad, .resize, .upsample,
             .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp, .ifThenElse, .loop, .scan,
             .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor, .where, .range:
            return nil
        }
    }
}

extension Node {
    /// The node's `axis` attribute, or the specification's default for its operator at `opset`
    /// (`OpKind.defaultAxis`); nil when it has neither.
    public func axis(opset: Int64) -> Int? {
        if let v = self[attribute: "axis"]?.int { return Int(clamping: v) }
        return kind?.defaultAxis(opset: opset)
    }
}
