/// Static shape inference: element types and shapes of every value, propagated in node order.
///
/// Inference starts from graph inputs, initializers and the file's value_info, keeps symbolic
/// dimensions (such as a dynamic "batch") symbolic, and evaluates the small integer computations
/// exporters emit to build shapes (Shape → Gather → Unsqueeze → Concat → Reshape), tracking their
/// elements as `Dim`s so a symbolic batch flows through them. Operators it does not know produce
/// unknown outputs; shapes that contradict each other throw a one-line `ModelError` naming the node.
/// The bodies of If/Loop/Scan are not inferred: their outputs are what value_info says, or unknown.
extension Model {
    /// Types of all values of the main graph (inputs, initializers, node outputs), under the
    /// model's default operator set version.
    public func inferShapes() throws -> [String: TensorType] {
        try graph.inferShapes(opset: defaultOpset)
    }
}

extension Graph {
    /// Types of all values of this graph, with operators read under `opset` of the default domain.
    public func inferShapes(opset: Int64) throws -> [String: TensorType] {
        var context = try ShapeContext(graph: self, opset: opset)
        return try context.run(self)
    }
}

/// The elements of a small integer or float tensor, known while inferring. Integer elements are
/// `Dim`s so that `Shape` of a tensor with a symbolic dimension gives a partially known vector.
enum KnownValue: Equatable {
    case ints([Dim])
    case floats([Double])

    var ints: [Dim]? { if case .ints(let v) = self { return v }; return nil }
    /// Elements as numbers (integers widened), nil when any is not a number.
    var numbers: [Double]? {
        switch self {
        case .floats(let v): return v
        case .ints(let v):
            var out: [Double] = []
            for d in v { guard let x = d.value else { return nil }; out.append(Double(x)) }
            return out
        }
    }
}

/// What a rule found out about one output.
struct Inferred {
    var elementType: DataType?
    var shape: Shape?
    var value: KnownValue?

    init(_ elementType: DataType?, _ shape: Shape?, value: KnownValue? = nil) {
        self.elementType = elementType
        self.shape = shape
        self.value = value
    }

    static let unknown = Inferred(nil, nil)
}

/// Largest constant tensor whose elements inference keeps.
private let maxKnownElements = 4096

struct ShapeContext {
    let opset: Int64
    var types: [String: TensorType] = [:]
    var values: [String: KnownValue] = [:]
    /// Types stated by value_info and graph outputs, used where inference knows less.
    var declared: [String: TensorType] = [:]

    init(graph: Graph, opset: Int64) throws {
        self.opset = opset
        for v in graph.valueInfo + graph.outputs { if let t = v.tensorType { declared[v.name] = t } }
        for v in graph.inputs { if let t = v.tensorType { types[v.name] = t } }
        // An initializer also listed as a graph input is only a default: it can be overridden at run
        // time, so its elements are not folded.
        let overridable = Set(graph.inputs.map(\.name))
        for t in graph.initializers {
            types[t.name] = t.type
            if !overridable.contains(t.name), let v = ShapeContext.known(t) { values[t.name] = v }
        }
    }

    /// The elements of a small numeric tensor, or nil.
    static func known(_ t: Tensor) -> KnownValue? {
        guard (try? t.validate()) != nil, t.elementCount <= maxKnownElements else { return nil }
        if t.dataType.isFloatingPoint {
            return (try? t.floats()).map { .floats($0.map(Double.init)) }
        }
        guard t.dataType.isNumeric else { return nil }
        return (try? t.int64s()).map { .ints($0.map { .fixed(Int($0)) }) }
    }

    mutating func run(_ graph: Graph) throws -> [String: TensorType] {
        for node in graph.nodes {
            let outputs: [Inferred]
            // The NodeInference (a copy of this context) must be gone before `types` and `values`
            // change below: alive, it shares their storage, and each change would copy the whole
            // dictionary, once per node (quadratic in the node count).
            do { outputs = try NodeInference(node: node, context: self).infer() } catch let e as ModelError {
                throw e.at("node '\(node.displayName)' (\(node.opType))")
            }
            for (i, name) in node.outputs.enumerated() where !name.isEmpty {
                let o = i < outputs.count ? outputs[i] : .unknown
                let d = declared[name]
                let shape = DimMath.merge(inferred: o.shape, declared: d?.shape)
                let type = o.elementType ?? d?.elementType ?? .undefined
                if type != .undefined || shape != nil { types[name] = TensorType(type, shape) }
                if let v = o.value, (v.ints?.count ?? 0) <= maxKnownElements { values[name] = v }
            }
        }
        for (name, t) in declared where types[name] == nil { types[name] = t }
        return types
    }
}

/// One node seen by the inference rules: its inputs' types and known values, and typed access to
/// its attributes. Rules live in extensions, one file per op family.
struct NodeInference {
    let node: Node
    let context: ShapeContext
    var opset: Int64 { context.opset }

    /// The rule for the node's operator. The switch is exhaustive with no `default:`, so a new
    /// `OpKind` case does not compile until it has a rule here or is listed without one by name.
    func infer() throws -> [Inferred] {
        guard let kind = node.kind else { return [] }
        switch kind {
        // Convolution.swift
        case .conv: return try inferConv()
        case .convTranspose: return try inferConvTranspose()
        case .maxPool, .averagePool: return try inferPool(kind)
        case .globalAveragePool, .globalMaxPool: return try inferGlobalPool()
        case .lrn: return try inferLRN()
        // Dense.swift
        case .gemm: return try inferGemm()
        case .matMul: return try inferMatMul()
        case .batchNormalization, .instanceNormalization: return try inferChannelNorm(kind)
        case .layerNormalization: return try inferLayerNorm()
        // Elementwise.swift
        case .relu, .leakyRelu, .thresholdedRelu, .elu, .selu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .tanh, .softplus,
             .softsign, .gelu, .erf, .shrink, .exp, .log, .sqrt, .neg, .abs, .reciprocal, .floor, .ceil, .sign:
            return try inferUnary()
        case .softmax, .logSoftmax: return try inferSoftmax()
        case .pRelu: return try inferPRelu()
        case .add, .sub, .mul, .div, .pow, .max, .min, .sum, .mean: return try inferBroadcast(kind)
        // ShapeOps.swift
        case .flatten: return try inferFlatten()
        case .reshape: return try inferReshape()
        case .transpose: return try inferTranspose()
        case .squeeze: return try inferSqueeze()
        case .unsqueeze: return try inferUnsqueeze()
        case .expand: return try inferExpand()
        case .tile: return try inferTile()
        case .pad: return try inferPad()
        case .identity: return try inferIdentity()
        case .dropout: return try inferDropout()
        case .cast: return try inferCast()
        case .shape: return try inferShapeOp()
        case .size: return try inferSize()
        case .constant: return try inferConstant()
        case .constantOfShape: return try inferConstantOfShape()
        // Indexing.swift
        case .concat: return try inferConcat()
        case .split: return try inferSplit()
        case .slice: return try inferSlice()
        case .gather: return try inferGather()
        // Reduction.swift
        case .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceSumSquare, .reduceL1, .reduceL2,
             .reduceLogSum, .reduceLogSumExp:
            return try inferReduce(kind)
        case .resize, .upsample: return try inferResize(kind)
        // Logic.swift
        case .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .and, .or, .xor: return try inferComparison()
        case .not: return try inferNot()
        case .where: return try inferWhere()
        // Selection.swift
        case .argMax, .argMin: return try inferArgReduce()
        case .topK: return try inferTopK()
        case .range: return try inferRange()
        // No shape rule: their bodies are not inferred, so value_info decides.
        case .ifThenElse, .loop, .scan: return []
        }
    }

    // MARK: Inputs

    /// The name of input `i`, throwing when a required input is absent.
    func required(_ i: Int) throws -> String {
        guard let name = node.input(i) else { throw ModelError("missing required input \(i)") }
        return name
    }

    func type(_ i: Int) -> TensorType? { node.input(i).flatMap { context.types[$0] } }
    func shape(_ i: Int) -> Shape? { type(i)?.shape }
    func elementType(_ i: Int) -> DataType? {
        guard let t = type(i)?.elementType, t != .undefined else { return nil }
        return t
    }
    func value(_ i: Int) -> KnownValue? { node.input(i).flatMap { context.values[$0] } }
    /// Integer elements of input `i`, possibly symbolic.
    func dims(_ i: Int) -> [Dim]? { value(i)?.ints }
    /// Integer elements of input `i` when all are numbers.
    func ints(_ i: Int) -> [Int]? {
        guard let d = dims(i) else { return nil }
        var out: [Int] = []
        for x in d { guard let v = x.value else { return nil }; out.append(v) }
        return out
    }
    func numbers(_ i: Int) -> [Double]? { value(i)?.numbers }

    /// The first input's type passed through unchanged.
    var passThrough: Inferred { Inferred(elementType(0), shape(0)) }

    // MARK: Attributes

    func int(_ name: String, _ defaultValue: Int) throws -> Int {
        guard let a = node[attribute: name] else { return defaultValue }
        guard case .int(let v) = a.value else { throw ModelError("attribute '\(name)' must be an integer") }
        return try DimMath.checked(Int(truncatingIfNeeded: v))
    }

    /// The `axis` attribute, checked to be an integer in range where given, or the
    /// specification's default for the operator (`OpKind.defaultAxis`).
    func axisAttribute() throws -> Int {
        guard let axis = try checked(node.axis(opset: opset), integers: "axis") else {
            throw ModelError("missing attribute 'axis'")
        }
        return axis
    }

    /// `decoded`, a typed attribute struct (which holds the spec's defaults), once the integer
    /// attributes `names` it was decoded from are checked to be integers in range where given.
    func checked<T>(_ decoded: T, integers names: String...) throws -> T {
        for name in names { _ = try int(name, 0) }
        return decoded
    }

    func ints(_ name: String) throws -> [Int]? {
        guard let a = node[attribute: name] else { return nil }
        guard let v = a.ints else { throw ModelError("attribute '\(name)' must be a list of integers") }
        return try v.map { try DimMath.checked(Int(truncatingIfNeeded: $0)) }
    }

    func floats(_ name: String) throws -> [Double]? {
        guard let a = node[attribute: name] else { return nil }
        guard let v = a.floats else { throw ModelError("attribute '\(name)' must be a list of floats") }
        return v.map(Double.init)
    }

    func string(_ name: String, _ defaultValue: String) throws -> String {
        guard let a = node[attribute: name] else { return defaultValue }
        guard let v = a.string else { throw ModelError("attribute '\(name)' must be a string") }
        return v
    }

    // MARK: Axes

    /// `axis` normalised into 0..<rank (ONNX allows -rank..<rank).
    func axis(_ axis: Int, rank: Int, what: String = "axis") throws -> Int {
        guard axis >= -rank, axis < rank else {
            throw ModelError("\(what) \(axis) is out of range for rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// Axes normalised into 0..<rank, rejecting duplicates.
    func axes(_ axes: [Int], rank: Int) throws -> [Int] {
        let out = try axes.map { try axis($0, rank: rank) }
        guard Set(out).count == out.count else { throw ModelError("axes \(axes) repeat an axis") }
        return out
    }

    /// Axes that moved from an attribute to input `index` at opset `since`; nil when absent.
    /// `known` is false when the input exists but its elements are not known statically.
    func movedInts(_ name: String, input index: Int, since: Int64) throws -> (values: [Int]?, known: Bool) {
        // Files that keep the attribute form past `since` are read leniently.
        if opset < since || node.input(index) == nil { return (try ints(name), true) }
        guard let v = ints(index) else { return (nil, false) }
        return (v, true)
    }
}
