import CONNX
import ModelIR

/// Presence flags for string fields the IR models: by default a field is present exactly when it
/// is non-empty; a flag records the exceptions so the writer reproduces them.
struct PresenceFlags: OptionSet {
    let rawValue: UInt8
    init(rawValue: UInt8) { self.rawValue = rawValue }
    static let emptyButPresent0 = PresenceFlags(rawValue: 1)
    static let emptyButPresent1 = PresenceFlags(rawValue: 2)
    static let emptyButPresent2 = PresenceFlags(rawValue: 4)
    static let typeAbsent = PresenceFlags(rawValue: 8)

    static func emptyButPresent(_ i: Int) -> PresenceFlags { PresenceFlags(rawValue: 1 << UInt8(i)) }

    /// Flags for string fields given as (C pointer) in a fixed order.
    init(strings: [UnsafeMutablePointer<CChar>?]) {
        var flags: PresenceFlags = []
        for (i, s) in strings.enumerated() where s != nil && s!.pointee == 0 { flags.insert(.emptyButPresent(i)) }
        self = flags
    }
}

/// Turns a decoded ModelProto into the IR. Tensor data is borrowed from the decoded message,
/// which `owner` keeps alive.
final class ONNXDecoder {
    let owner: DecodedMessage
    let externalData: ExternalDataReader
    /// raw_data kept in the mapped file (see `LazyRawData`), by index of the main graph's initializer.
    let initializerData: [Int: TensorBytes]

    init(owner: DecodedMessage, externalData: ExternalDataReader, initializerData: [Int: TensorBytes] = [:]) {
        self.owner = owner
        self.externalData = externalData
        self.initializerData = initializerData
    }

    func model(_ m: UnsafeMutablePointer<Onnx__ModelProto>) throws -> Model {
        let p = m.pointee
        guard let g = p.graph else { throw ModelError("the model has no graph") }
        let graph = try self.graph(g, initializerData: initializerData)
        let opsets = messages(p.n_opset_import, p.opset_import).map {
            OpsetImport(domain: string($0.pointee.domain), version: $0.pointee.version)
        }
        let metadata = messages(p.n_metadata_props, p.metadata_props).map {
            (key: string($0.pointee.key), value: string($0.pointee.value))
        }
        // The residual keeps every scalar so that presence survives; the writer overrides the
        // ones the IR changed. Only the graph is owned by the IR alone.
        let rest = residual(of: m) { $0.graph = nil }
        return Model(irVersion: p.ir_version, opsetImports: opsets, producerName: string(p.producer_name),
                     producerVersion: string(p.producer_version), domain: string(p.domain),
                     modelVersion: p.model_version, docString: string(p.doc_string), metadata: metadata,
                     graph: graph, preserved: Residual.make(flags: 0, rest))
    }

    /// A graph; `initializerData` replaces the (emptied) raw_data of the initializers it names by index.
    func graph(_ g: UnsafeMutablePointer<Onnx__GraphProto>, initializerData: [Int: TensorBytes] = [:]) throws -> Graph {
        let p = g.pointee
        var graph = Graph(name: string(p.name))
        graph.initializers = try messages(p.n_initializer, p.initializer).enumerated().map {
            try tensor($1, rawData: initializerData[$0])
        }
        graph.sparseInitializers = try messages(p.n_sparse_initializer, p.sparse_initializer).map(sparseTensor)
        graph.inputs = try messages(p.n_input, p.input).map(valueInfo)
        graph.outputs = try messages(p.n_output, p.output).map(valueInfo)
        graph.valueInfo = try messages(p.n_value_info, p.value_info).map(valueInfo)
        graph.nodes = try messages(p.n_node, p.node).map(node)
        let rest = residual(of: g) { m in
            m.name = nil
            m.n_node = 0
            m.n_initializer = 0
            m.n_sparse_initializer = 0
            m.n_input = 0
            m.n_output = 0
            m.n_value_info = 0
        }
        graph.preserved = Residual.make(flags: PresenceFlags(strings: [p.name]).rawValue, rest)
        return graph
    }

    func node(_ n: UnsafeMutablePointer<Onnx__NodeProto>) throws -> Node {
        let p = n.pointee
        var node = Node(name: string(p.name), opType: string(p.op_type), domain: string(p.domain),
                        inputs: strings(p.n_input, p.input), outputs: strings(p.n_output, p.output))
        do {
            node.attributes = try messages(p.n_attribute, p.attribute).map(attribute)
        } catch let e as ModelError {
            throw e.at("node '\(node.displayName)'")
        }
        let rest = residual(of: n) { m in
            m.name = nil
            m.op_type = nil
            m.domain = nil
            m.n_input = 0
            m.n_output = 0
            m.n_attribute = 0
        }
        node.preserved = Residual.make(flags: PresenceFlags(strings: [p.name, p.op_type, p.domain]).rawValue, rest)
        return node
    }

    func attribute(_ a: UnsafeMutablePointer<Onnx__AttributeProto>) throws -> Attribute {
        let p = a.pointee
        let name = string(p.name)
        let value: AttributeValue
        let type = p.has_type != 0 ? p.type : inferredType(p)
        switch type {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: value = .float(p.f)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: value = .int(p.i)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: value = .string(bytes(p.s))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
            guard let t = p.t else { throw ModelError("attribute '\(name)' has type TENSOR but no tensor") }
            value = .tensor(try tensor(t))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
            guard let g = p.g else { throw ModelError("attribute '\(name)' has type GRAPH but no graph") }
            value = .graph(try graph(g))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR:
            guard let s = p.sparse_tensor else { throw ModelError("attribute '\(name)' has no sparse tensor") }
            value = .sparseTensor(try sparseTensor(s))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO:
            value = .typeProto(Preserved(format: Residual.format, bytes: p.tp.map { packMessage($0) } ?? []))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: value = .floats(array(p.n_floats, p.floats))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: value = .ints(array(p.n_ints, p.ints))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: value = .strings(array(p.n_strings, p.strings).map(bytes))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: value = .tensors(try messages(p.n_tensors, p.tensors).map { try tensor($0) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: value = .graphs(try messages(p.n_graphs, p.graphs).map { try graph($0) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
            value = .sparseTensors(try messages(p.n_sparse_tensors, p.sparse_tensors).map(sparseTensor))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
            value = .typeProtos(messages(p.n_type_protos, p.type_protos).map {
                Preserved(format: Residual.format, bytes: packMessage($0))
            })
        default:
            if p.ref_attr_name != nil {
                value = .reference(string(p.ref_attr_name))
            } else {
                throw ModelError("attribute '\(name)' has unknown type \(type.rawValue)")
            }
        }
        var flags = PresenceFlags(strings: [p.name])
        if p.has_type == 0 { flags.insert(.typeAbsent) }
        let rest = residual(of: a) { m in
            m.name = nil
            m.has_type = 0
            m.has_f = 0
            m.has_i = 0
            m.has_s = 0
            m.t = nil
            m.g = nil
            m.sparse_tensor = nil
            m.tp = nil
            m.n_floats = 0
            m.n_ints = 0
            m.n_strings = 0
            m.n_tensors = 0
            m.n_graphs = 0
            m.n_sparse_tensors = 0
            m.n_type_protos = 0
        }
        return Attribute(name, value, preserved: Residual.make(flags: flags.rawValue, rest))
    }

    /// IR version 1 files have no type discriminator: the field in use decides.
    private func inferredType(_ p: Onnx__AttributeProto) -> Onnx__AttributeProto__AttributeType {
        if p.has_f != 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT }
        if p.has_i != 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT }
        if p.has_s != 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING }
        if p.t != nil { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR }
        if p.g != nil { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH }
        if p.sparse_tensor != nil { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR }
        if p.tp != nil { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO }
        if p.n_floats > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS }
        if p.n_ints > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS }
        if p.n_strings > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS }
        if p.n_tensors > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS }
        if p.n_graphs > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS }
        if p.n_sparse_tensors > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS }
        if p.n_type_protos > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS }
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED
    }

    func valueInfo(_ v: UnsafeMutablePointer<Onnx__ValueInfoProto>) throws -> ValueInfo {
        let p = v.pointee
        let name = string(p.name)
        var info = ValueInfo(name: name)
        if let t = p.type {
            do { info.type = try ONNXDecoder.valueType(t) } catch let e as ModelError { throw e.at("value '\(name)'") }
        }
        // The residual keeps the type: the writer reuses it (with any denotations) while the IR's
        // type still equals it.
        let rest = residual(of: v) { $0.name = nil }
        info.preserved = Residual.make(flags: PresenceFlags(strings: [p.name]).rawValue, rest)
        return info
    }

    static func valueType(_ t: UnsafeMutablePointer<Onnx__TypeProto>) throws -> ValueInfo.ValueType {
        guard t.pointee.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, let tt = t.pointee.tensor_type else {
            return .other(Preserved(format: Residual.format, bytes: packMessage(t)))
        }
        let code = tt.pointee.has_elem_type != 0 ? tt.pointee.elem_type : 0
        guard let elementType = DataType(rawValue: code) else { throw ModelError("unknown element type \(code)") }
        guard let s = tt.pointee.shape else { return .tensor(TensorType(elementType, nil)) }
        let dims = try messages(s.pointee.n_dim, s.pointee.dim).map { d -> Dim in
            switch d.pointee.value_case {
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
                let v = d.pointee.dim_value
                // paddle2onnx writes a dynamic dimension as -1; onnx and onnxruntime read it as
                // unknown. An unchanged type is written back from the file's own bytes (keeping
                // the -1); a changed one writes the dimension without value or name.
                if v == -1 { return .unknown }
                guard v >= 0 else { throw ModelError("negative dimension \(v)") }
                guard v < 1 << 48 else { throw ModelError("absurd dimension \(v)") }
                return .fixed(Int(v))
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                return .symbol(string(d.pointee.dim_param))
            default:
                return .unknown
            }
        }
        return .tensor(TensorType(elementType, Shape(dims)))
    }
}
