@testable import ModelIR

/// Small builders for hand-written test graphs.
enum TG {
    /// A float32 graph input; strings in `dims` are symbols, -1 is unknown.
    static func input(_ name: String, _ dims: [Any], type: DataType = .float) -> ValueInfo {
        ValueInfo(name: name, tensor: TensorType(type, shape(dims)))
    }

    static func shape(_ dims: [Any]) -> Shape {
        Shape(dims.map { d -> Dim in
            if let s = d as? String { return .symbol(s) }
            let v = d as! Int
            return v < 0 ? .unknown : .fixed(v)
        })
    }

    /// A zero-filled float32 initializer.
    static func weight(_ name: String, _ dims: [Int]) -> Tensor {
        Tensor(name: name, floats: Array(repeating: 0, count: dims.reduce(1, *)), dims: dims)
    }

    /// An int64 initializer; a scalar when `scalar` is set.
    static func ints(_ name: String, _ values: [Int64], scalar: Bool = false) -> Tensor {
        Tensor(name: name, int64s: values, dims: scalar ? [] : [values.count])
    }

    static func floats(_ name: String, _ values: [Float]) -> Tensor {
        Tensor(name: name, floats: values, dims: [values.count])
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "",
                     _ attributes: [Attribute] = []) -> Node {
        Node(name: name, opType: op, inputs: inputs, outputs: outputs, attributes: attributes)
    }

    static func ints(_ name: String, _ v: [Int64]) -> Attribute { Attribute(name, .ints(v)) }
    static func int(_ name: String, _ v: Int64) -> Attribute { Attribute(name, .int(v)) }
    static func string(_ name: String, _ v: String) -> Attribute { Attribute(name, .string(Array(v.utf8))) }

    static func model(_ nodes: [Node], inputs: [ValueInfo], initializers: [Tensor] = [], valueInfo: [ValueInfo] = [],
                      opset: Int64 = 17) -> Model {
        Model(opsetImports: [OpsetImport(domain: "", version: opset)],
              graph: Graph(nodes: nodes, inputs: inputs, outputs: [], valueInfo: valueInfo, initializers: initializers))
    }

    /// Infers shapes and returns them as strings, e.g. "[batch,20,24,24]".
    static func infer(_ nodes: [Node], inputs: [ValueInfo], initializers: [Tensor] = [], valueInfo: [ValueInfo] = [],
                      opset: Int64 = 17) throws -> [String: String] {
        let types = try model(nodes, inputs: inputs, initializers: initializers, valueInfo: valueInfo, opset: opset)
            .inferShapes()
        return types.mapValues { $0.shape?.description ?? "?" }
    }
}
