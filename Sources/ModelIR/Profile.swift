/// Parameter and multiply-accumulate counts per node, after onnx-tool's conventions.
///
/// **Parameters** of a node are the elements of the initializers (dense or sparse, of any element
/// type) it reads, as onnx-tool's `model_profile` counts them: weights, biases, BatchNormalization
/// statistics, PRelu slopes, Resize scales, Split sizes. Outputs of Constant nodes are not
/// parameters (onnx-tool sees no initializer there; exporters use them for small values such as
/// Clip bounds), and initializers read only by the data-movement operators onnx-tool hides
/// (Reshape, Gather, Concat, Slice, Pad, Cast, Squeeze, Unsqueeze, Shape, Identity, ...) are not
/// either. A tensor read by several nodes appears in each node's count but only once in the totals.
///
/// **MACs** (1 MAC = a·b + c; FLOPs = 2 × MACs) use onnx-tool's instruction costs per element:
/// MUL = ADD = CMP = 1, DIV = 4, EXP = POW = 32, LOG = 43, SQRT = 24, TANH = EXP + 2·ADD + DIV = 38.
/// - Conv: N·Cout·Hout·Wout·(Cin/group)·kH·kW, plus one ADD per output element with a bias.
/// - ConvTranspose: N·Cin·Hin·Win·(Cout/group)·kH·kW (every input element meets one kernel slice),
///   plus one ADD per output element with a bias. (onnx-tool multiplies by output elements instead.)
/// - Gemm: M·N·K plus M·N with C; MatMul: output elements × K (batch dims included).
/// - MaxPool / AveragePool: output elements × kernel elements. GlobalAveragePool: input elements +
///   4 per output element; GlobalMaxPool: input elements. LRN: output elements × (37 + size).
/// - BatchNormalization: 31 per element (ADD + SQRT + DIV + ADD + MUL, unfused);
///   InstanceNormalization: 14 per element; LayerNormalization: 7 per element + 29 per normalised row.
/// - Per output element: Relu, Neg, Abs, Add, Sub, Mul, Max, Min 1; LeakyRelu, PRelu, Clip 2;
///   HardSigmoid 4; HardSwish 5; Div, Reciprocal 4; Sqrt 24; Exp, Sigmoid, Pow 32; Softmax 36;
///   Log 43; Tanh 76 (onnx-tool counts two TANH); Sum ADD × (inputs − 1).
/// - Not in onnx-tool, chosen here the same way: Elu 35, Selu 36, Softsign 6, Erf 38 (as TANH),
///   Gelu 42, Softplus 76, LogSoftmax 75, Mean ADD × (inputs − 1) + DIV.
/// - ReduceMean / ReduceSum / ReduceMax: input elements. Resize / Upsample per output element:
///   nearest 0, linear 4, cubic 8.
/// - Shape and data-movement operators cost nothing; If/Loop/Scan bodies are not counted (0).
/// Graph inputs named in `inputShapes` take those shapes (`info --input-shape`, or the data's sample
/// shape in `trim` and `apoz`); a remaining symbolic leading (batch) dimension is set to `batch`
/// before counting; nodes whose shapes stay unknown (other symbols such as a dynamic height, unknown
/// operators) have `macs == nil`.
public struct LayerProfile: Sendable, Equatable {
    /// The node's display name (its name, or op type and first output).
    public var name: String
    public var opType: String
    public var inputShapes: [Shape?]
    public var outputShapes: [Shape?]
    /// Elements of the node's constant inputs.
    public var params: Int
    /// Elements of each constant input counted in `params`, by value name.
    public var parameterCounts: [String: Int]
    /// Multiply-accumulate operations, or nil when a shape they depend on is unknown.
    public var macs: Int?

    public init(name: String, opType: String, inputShapes: [Shape?], outputShapes: [Shape?], params: Int,
                parameterCounts: [String: Int], macs: Int?) {
        self.name = name
        self.opType = opType
        self.inputShapes = inputShapes
        self.outputShapes = outputShapes
        self.params = params
        self.parameterCounts = parameterCounts
        self.macs = macs
    }
}

/// Whole-model totals of a profile.
public struct ProfileTotals: Sendable, Equatable {
    /// Parameters, each constant tensor counted once however many nodes read it.
    public var params: Int
    /// MACs of all layers whose count is known.
    public var macs: Int
    /// Names of layers whose MACs are unknown (left out of `macs`).
    public var layersWithUnknownMACs: [String]

    public init(_ layers: [LayerProfile]) {
        var seen: [String: Int] = [:]
        for l in layers { seen.merge(l.parameterCounts) { a, _ in a } }
        params = seen.values.reduce(0, +)
        // Saturates rather than wrapping on absurd models.
        macs = layers.compactMap(\.macs).reduce(0) { a, b in
            let (s, o) = a.addingReportingOverflow(b)
            return o ? Int.max : s
        }
        layersWithUnknownMACs = layers.filter { $0.macs == nil }.map(\.name)
    }
}

extension Model {
    /// This model with the named graph inputs given concrete shapes (e.g. `["x": [1, 3, 640, 640]]`),
    /// so that inference makes every shape that follows from them concrete. A name that is not a
    /// fed input, a rank that differs from the declared one, or a number that contradicts a declared
    /// number throws a one-line error; symbolic and unknown dimensions (dim_param, paddle's -1) take
    /// the given value.
    public func binding(inputShapes: [String: [Int]]) throws -> Model {
        guard !inputShapes.isEmpty else { return self }
        var m = self
        let constant = Set(graph.initializers.map(\.name))
        let fed = graph.inputs.indices.filter { !constant.contains(graph.inputs[$0].name) }
        for name in inputShapes.keys.sorted() where !fed.contains(where: { graph.inputs[$0].name == name }) {
            let names = fed.map { "'\(graph.inputs[$0].name)'" }.joined(separator: ", ")
            throw ModelError("the model has no input '\(name)' (its inputs: \(names.isEmpty ? "none" : names))")
        }
        for i in fed {
            let name = graph.inputs[i].name
            guard let dims = inputShapes[name] else { continue }
            guard dims.allSatisfy({ $0 > 0 && $0 < 1 << 32 }) else {
                throw ModelError("input '\(name)': every dimension must be a positive number, got \(dims)")
            }
            let declared = graph.inputs[i].tensorType
            if let shape = declared?.shape {
                guard shape.rank == dims.count else {
                    throw ModelError("input '\(name)' has rank \(shape.rank) (\(shape)), the given shape \(dims) has \(dims.count) dimensions")
                }
                for (axis, (d, v)) in zip(shape.dims, dims).enumerated() {
                    if let fixed = d.value, fixed != v {
                        throw ModelError("input '\(name)' has dimension \(fixed) on axis \(axis) (\(shape)), the given shape says \(v)")
                    }
                }
            }
            m.graph.inputs[i].type = .tensor(TensorType(declared?.elementType ?? .float, Shape(fixed: dims)))
        }
        return m
    }

    /// Per-node parameters and MACs, in node order, with `inputShapes` bound first (see
    /// `binding(inputShapes:)`) and any remaining symbolic batch dimension set to `batch`.
    /// See `LayerProfile` for the counting conventions.
    public func profile(batch: Int = 1, inputShapes: [String: [Int]] = [:]) throws -> [LayerProfile] {
        guard batch > 0 else { throw ModelError("batch size must be positive, got \(batch)") }
        var g = try binding(inputShapes: inputShapes).graph
        let constant = Set(g.initializers.map(\.name))
        // Bind the leading (batch) dimension of every fed input that is not a number.
        for i in g.inputs.indices where !constant.contains(g.inputs[i].name) {
            guard var t = g.inputs[i].tensorType, var s = t.shape, s.rank > 0, s[0].value == nil else { continue }
            s[0] = .fixed(batch)
            t.shape = s
            g.inputs[i].type = .tensor(t)
        }
        let types = try g.inferShapes(opset: defaultOpset)
        var constants: [String: Int] = [:]
        for t in g.initializers {
            try t.validate()
            constants[t.name] = t.elementCount
        }
        for s in g.sparseInitializers {
            try s.values.validate()
            constants[s.name] = s.values.elementCount
        }
        return try g.nodes.map { node in
            var counts: [String: Int] = [:]
            for input in node.inputs where !input.isEmpty && !onnxToolHiddenOps.contains(node.opType) {
                if let count = constants[input] { counts[input] = count }
            }
            let inShapes = node.inputs.map { $0.isEmpty ? nil : types[$0]?.shape }
            let outShapes = node.outputs.map { $0.isEmpty ? nil : types[$0]?.shape }
            let macs: Int?
            do { macs = try MACCounter(node: node, opset: defaultOpset, inputs: inShapes, outputs: outShapes).count() } catch let e as ModelError {
                throw e.at("node '\(node.displayName)' (\(node.opType))")
            }
            return LayerProfile(name: node.displayName, opType: node.opType, inputShapes: inShapes,
                                outputShapes: outShapes, params: counts.values.reduce(0, +), parameterCounts: counts,
                                macs: macs)
        }
    }

    /// Totals of `profile(batch:inputShapes:)`.
    public func profileTotals(batch: Int = 1, inputShapes: [String: [Int]] = [:]) throws -> ProfileTotals {
        ProfileTotals(try profile(batch: batch, inputShapes: inputShapes))
    }
}

/// The operators onnx-tool's `model_profile` leaves out of its table (its `NoMacsOps`): an
/// initializer read only by them is not a parameter (a Reshape's target shape, a Gather's table).
let onnxToolHiddenOps: Set<String> = ["Identity", "Constant", "Shape", "Squeeze", "Unsqueeze", "Reshape",
                                      "ConstantOfShape", "Cast", "Pad", "Concat", "Slice", "Gather"]

/// onnx-tool's per-element instruction costs.
enum MACCost {
    static let mul = 1, add = 1, cmp = 1, div = 4, exp = 32, pow = 32, log = 43, sqrt = 24
    static let tanh = exp + 2 * add + div
}

/// Counts one node's MACs from its resolved shapes.
struct MACCounter {
    let node: Node
    let opset: Int64
    let inputs: [Shape?]
    let outputs: [Shape?]

    /// Elements of input `i`, when its shape is fully known.
    func inCount(_ i: Int) -> Int? { i < inputs.count ? DimMath.elementCount(inputs[i]) : nil }
    func outCount(_ i: Int = 0) -> Int? { i < outputs.count ? DimMath.elementCount(outputs[i]) : nil }
    func hasInput(_ i: Int) -> Bool { node.input(i) != nil }

    func times(_ a: Int?, _ b: Int) throws -> Int? {
        guard let a else { return nil }
        let (p, o) = a.multipliedReportingOverflow(by: b)
        guard !o else { throw ModelError("MAC count overflows") }
        return p
    }

    func sum(_ a: Int, _ b: Int) throws -> Int {
        let (s, o) = a.addingReportingOverflow(b)
        guard !o else { throw ModelError("MAC count overflows") }
        return s
    }

    /// Output elements × `cost`.
    func perOutput(_ cost: Int) throws -> Int? { try times(outCount(), cost) }

    func count() throws -> Int? {
        guard let kind = node.kind else { return nil }
        let variadic = Swift.max(1, node.inputs.count - 1)
        switch kind {
        case .conv, .convTranspose:
            guard let w = inputs.count > 1 ? inputs[1]?.fixedDims : nil, w.count >= 2 else { return nil }
            guard let perElement = DimMath.product(ints: w.dropFirst()) else { throw ModelError("MAC count overflows") }
            let source = kind == .conv ? outCount() : inCount(0)
            guard let mults = try times(source, perElement), let out = outCount() else { return nil }
            return try sum(mults, hasInput(2) ? out : 0)
        case .maxPool, .averagePool:
            // An unknown auto_pad is shape inference's to report; the cost needs only the kernel.
            guard let k = DimMath.product(ints: (try? WindowAttributes(node))?.kernelShape ?? []) else { throw ModelError("MAC count overflows") }
            return try perOutput(k)
        case .globalAveragePool:
            guard let i = inCount(0), let o = try times(outCount(), MACCost.div) else { return nil }
            return try sum(i, o)
        case .globalMaxPool: return try times(inCount(0), MACCost.cmp)
        case .lrn:
            // Counted as 1 when absent (the file is invalid; shape inference says so).
            let size = Int(Swift.min(Swift.max(LRNAttributes(node).size ?? 1, 0), 1 << 20))
            return try perOutput(MACCost.div + MACCost.exp + MACCost.add + size * MACCost.mul)
        case .gemm, .matMul:
            guard let a = inputs.first??.fixedDims, let k = kind == .gemm && GemmAttributes(node).transA ? a.first : a.last,
                  let out = outCount(), let mults = try times(out, k) else { return nil }
            return try sum(mults, kind == .gemm && hasInput(2) ? out : 0)
        case .batchNormalization:
            return try perOutput(MACCost.add + MACCost.sqrt + MACCost.div + MACCost.add + MACCost.mul)
        case .instanceNormalization: return try perOutput(2 * (MACCost.add + MACCost.mul + MACCost.add + MACCost.div))
        case .layerNormalization:
            guard let x = inputs.first??.fixedDims, let all = inCount(0), var axis = node.axis(opset: opset) else { return nil }
            if axis < 0 { axis += x.count }
            guard axis >= 0, axis <= x.count else { return nil }
            guard let rows = DimMath.product(ints: x[..<axis]),
                  let perElement = try times(all, 3 * MACCost.mul + 4 * MACCost.add),
                  let perRow = try times(rows, MACCost.add + MACCost.sqrt + MACCost.div) else { return nil }
            return try sum(perElement, perRow)
        case .relu, .thresholdedRelu, .neg, .abs, .floor, .ceil, .sign: return try perOutput(MACCost.cmp)
        case .shrink: return try perOutput(2 * MACCost.cmp + MACCost.add)
        case .leakyRelu, .pRelu: return try perOutput(MACCost.mul + MACCost.cmp)
        case .clip: return try perOutput(2 * MACCost.cmp)
        case .hardSigmoid: return try perOutput(MACCost.mul + MACCost.add + 2 * MACCost.cmp)
        case .hardSwish: return try perOutput(2 * MACCost.mul + MACCost.add + 2 * MACCost.cmp)
        case .sigmoid, .exp: return try perOutput(MACCost.exp)
        case .tanh: return try perOutput(2 * MACCost.tanh)
        case .elu: return try perOutput(MACCost.cmp + MACCost.exp + MACCost.add + MACCost.mul)
        case .selu: return try perOutput(MACCost.cmp + MACCost.exp + MACCost.add + 2 * MACCost.mul)
        case .softplus: return try perOutput(MACCost.exp + MACCost.add + MACCost.log)
        case .softsign: return try perOutput(MACCost.cmp + MACCost.add + MACCost.div)
        case .erf: return try perOutput(MACCost.tanh)
        case .gelu: return try perOutput(MACCost.tanh + 3 * MACCost.mul + MACCost.add)
        case .softmax: return try perOutput(MACCost.exp + MACCost.div)
        case .logSoftmax: return try perOutput(MACCost.exp + MACCost.log)
        case .add, .sub, .sum, .max: return try perOutput(variadic * MACCost.add)
        case .min: return try perOutput(variadic * MACCost.cmp)
        case .mul: return try perOutput(variadic * MACCost.mul)
        case .div: return try perOutput(variadic * MACCost.div)
        case .mean: return try perOutput(variadic * MACCost.add + MACCost.div)
        case .pow: return try perOutput(MACCost.pow)
        case .log: return try perOutput(MACCost.log)
        case .sqrt: return try perOutput(MACCost.sqrt)
        case .reciprocal: return try perOutput(MACCost.div)
        case .reduceMean, .reduceSum: return try times(inCount(0), MACCost.add)
        case .reduceMax, .reduceMin: return try times(inCount(0), MACCost.cmp)
        case .reduceProd: return try times(inCount(0), MACCost.mul)
        case .reduceSumSquare, .reduceL2: return try times(inCount(0), MACCost.mul + MACCost.add)
        case .reduceL1: return try times(inCount(0), MACCost.cmp + MACCost.add)
        case .reduceLogSum: return try times(inCount(0), MACCost.add)
        case .reduceLogSumExp: return try times(inCount(0), MACCost.exp + MACCost.add)
        case .resize, .upsample:
            let mode = ResizeAttributes(node, legacy: kind == .upsample).mode
            switch mode {
            case "linear", "bilinear": return try perOutput(4)
            case "cubic": return try perOutput(8)
            default: return 0
            }
        case .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor:
            return try perOutput(MACCost.cmp)
        case .argMax, .argMin, .topK: return try times(inCount(0), MACCost.cmp)
        case .flatten, .reshape, .transpose, .squeeze, .unsqueeze, .concat, .split, .slice, .gather, .shape, .size,
             .expand, .tile, .constant, .constantOfShape, .identity, .dropout, .cast, .pad, .where, .range:
            return 0
        case .ifThenElse, .loop, .scan:
            return 0
        }
    }
}
