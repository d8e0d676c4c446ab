/// The operators modeltool knows, as data. Every pass (shape inference, profiling, runtime,
/// trimming) switches over this enum exhaustively, so adding a case makes the compiler point at
/// every place that must decide what to do with it.
///
/// Raw values are ONNX op types of the default operator set (see `OperatorSetDomain`).
public enum OpKind: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    // MARK: Convolution and pooling
    case conv = "Conv"
    case convTranspose = "ConvTranspose"
    case maxPool = "MaxPool"
    case averagePool = "AveragePool"
    case globalAveragePool = "GlobalAveragePool"
    case globalMaxPool = "GlobalMaxPool"
    case lrn = "LRN"

    // MARK: Dense and normalisation
    case gemm = "Gemm"
    case matMul = "MatMul"
    case batchNormalization = "BatchNormalization"
    case instanceNormalization = "InstanceNormalization"
    case layerNormalization = "LayerNormalization"

    // MARK: Activations
    case relu = "Relu"
    case leakyRelu = "LeakyRelu"
    case thresholdedRelu = "ThresholdedRelu"
    case pRelu = "PRelu"
    case elu = "Elu"
    case selu = "Selu"
    case clip = "Clip"
    case sigmoid = "Sigmoid"
    case hardSigmoid = "HardSigmoid"
    case hardSwish = "HardSwish"
    case tanh = "Tanh"
    case softplus = "Softplus"
    case softsign = "Softsign"
    case gelu = "Gelu"
    case erf = "Erf"
    case softmax = "Softmax"
    case logSoftmax = "LogSoftmax"
    case shrink = "Shrink"

    // MARK: Element-wise arithmetic
    case add = "Add"
    case sub = "Sub"
    case mul = "Mul"
    case div = "Div"
    case pow = "Pow"
    case max = "Max"
    case min = "Min"
    case sum = "Sum"
    case mean = "Mean"
    case exp = "Exp"
    case log = "Log"
    case sqrt = "Sqrt"
    case neg = "Neg"
    case abs = "Abs"
    case reciprocal = "Reciprocal"
    case floor = "Floor"
    case ceil = "Ceil"
    case sign = "Sign"

    // MARK: Comparison and logic (bool results are int64 0/1 at run time)
    case equal = "Equal"
    case less = "Less"
    case lessOrEqual = "LessOrEqual"
    case greater = "Greater"
    case greaterOrEqual = "GreaterOrEqual"
    case not = "Not"
    case and = "And"
    case or = "Or"
    case xor = "Xor"
    case `where` = "Where"

    // MARK: Shape and data movement
    case flatten = "Flatten"
    case reshape = "Reshape"
    case transpose = "Transpose"
    case squeeze = "Squeeze"
    case unsqueeze = "Unsqueeze"
    case concat = "Concat"
    case split = "Split"
    case slice = "Slice"
    case gather = "Gather"
    case shape = "Shape"
    case size = "Size"
    case expand = "Expand"
    case tile = "Tile"
    case constant = "Constant"
    case constantOfShape = "ConstantOfShape"
    case identity = "Identity"
    case dropout = "Dropout"
    case cast = "Cast"
    case pad = "Pad"
    case reduceMean = "ReduceMean"
    case reduceSum = "ReduceSum"
    case reduceMax = "ReduceMax"
    case reduceMin = "ReduceMin"
    case reduceProd = "ReduceProd"
    case reduceSumSquare = "ReduceSumSquare"
    case reduceL1 = "ReduceL1"
    case reduceL2 = "ReduceL2"
    case reduceLogSum = "ReduceLogSum"
    case reduceLogSumExp = "ReduceLogSumExp"
    case resize = "Resize"
    case upsample = "Upsample"
    case range = "Range"
    case argMax = "ArgMax"
    case argMin = "ArgMin"
    case topK = "TopK"

    // MARK: Control flow (known, never executed)
    case ifThenElse = "If"
    case loop = "Loop"
    case scan = "Scan"

    /// The kind of a node's operator, or nil for operators of other domains and unknown types.
    public init?(opType: String, domain: String) {
        guard OperatorSetDomain.normalized(domain) == OperatorSetDomain.onnx else { return nil }
        self.init(rawValue: opType)
    }

    /// The ONNX op type.
    public var opType: String { rawValue }
    public var description: String { rawValue }

    /// The section of the op set an operator belongs to.
    public enum Family: String, Sendable, CaseIterable {
        case convolutionAndPooling = "convolution & pooling"
        case denseAndNormalization = "dense & normalisation"
        case activation = "activations"
        case elementwise = "element-wise"
        case comparisonAndLogic = "comparison & logic"
        case shapeAndDataMovement = "shape & data movement"
        case controlFlow = "control flow"
    }

    /// The section this operator is listed in.
    public var family: Family {
        switch self {
        case .conv, .convTranspose, .maxPool, .averagePool, .globalAveragePool, .globalMaxPool, .lrn:
            return .convolutionAndPooling
        case .gemm, .matMul, .batchNormalization, .instanceNormalization, .layerNormalization:
            return .denseAndNormalization
        case .relu, .leakyRelu, .thresholdedRelu, .pRelu, .elu, .selu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .tanh, .softplus,
             .softsign, .gelu, .erf, .softmax, .logSoftmax, .shrink:
            return .activation
        case .add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean, .exp, .log, .sqrt, .neg, .abs, .reciprocal,
             .floor, .ceil, .sign:
            return .elementwise
        case .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor, .where:
            return .comparisonAndLogic
        case .flatten, .reshape, .transpose, .squeeze, .unsqueeze, .concat, .split, .slice, .gather, .shape, .size,
             .expand, .tile, .constant, .constantOfShape, .identity, .dropout, .cast, .pad, .resize, .upsample:
            return .shapeAndDataMovement
        case .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp, .range, .argMax, .argMin, .topK:
            return .shapeAndDataMovement
        case .ifThenElse, .loop, .scan:
            return .controlFlow
        }
    }

    /// Operators of one section, in declaration order.
    public static func members(of family: Family) -> [OpKind] { allCases.filter { $0.family == family } }

    /// Element-wise arithmetic: the output element at an index depends on the input elements at the
    /// same (broadcast) index.
    public static let elementwise: Set<OpKind> = Set(members(of: .elementwise))

    /// Activation functions (including Softmax/LogSoftmax, which normalise along an axis).
    public static let activations: Set<OpKind> = Set(members(of: .activation))

    /// Element-wise operators with two or more data inputs, broadcast together: pruning one of
    /// their inputs' channels ties all inputs and the output (`ChannelFlow.tiedAcrossInputs`).
    public static let tiesInputChannels: Set<OpKind> = Set(allCases.filter { $0.channelFlow == .tiedAcrossInputs })

    /// Operators whose output channel c is computed from channel c of their first input only
    /// (`ChannelFlow.oneToOne`), so removing an input channel removes the same output channel.
    public static let passesChannelsThrough: Set<OpKind> = Set(allCases.filter { $0.channelFlow == .oneToOne })

    /// Operators that are recognised (and have their subgraphs verified) but that the runtime does not
    /// execute and shape inference does not look into.
    public static let knownButNotExecuted: Set<OpKind> = Set(members(of: .controlFlow))

    /// Operators whose second and later inputs are usually learned parameters (weights, biases,
    /// normalisation statistics, slopes).
    public static let hasWeights: Set<OpKind> = [
        .conv, .convTranspose, .gemm, .matMul, .batchNormalization, .instanceNormalization, .layerNormalization,
        .pRelu,
    ]
}

extension Node {
    /// The operator's kind, or nil when modeltool does not know it.
    public var kind: OpKind? { OpKind(opType: opType, domain: domain) }
}
