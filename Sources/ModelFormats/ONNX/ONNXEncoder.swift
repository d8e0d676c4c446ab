import CONNX
import ModelIR

/// Builds protobuf-c message trees from the IR. Every message starts from its residual (the
/// original message minus what the IR models), so fields the IR does not know survive; the
/// modeled fields are then set from the IR, reusing the original encoding where unchanged.
final class ONNXEncoder {
    let arena = CArena()
    /// Receives tensors that are to be stored outside the model file; nil stores everything inline.
    var externalize: ((Tensor) throws -> (location: String, offset: Int, length: Int)?)?
    /// Nesting depth of the graph being encoded: only the main graph's initializers go external.
    private(set) var depth = 0

    /// A fresh message of type T, or a shallow copy of the residual decoded from `bytes`.
    private func start<T>(_ unpack: Unpack<T>, _ bytes: [UInt8],
                          _ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let m: UnsafeMutablePointer<T> = arena.message(initialize)
        if !bytes.isEmpty, let decoded = unpackMessage(unpack, bytes) {
            arena.retain(decoded)
            m.pointee = decoded.typed(T.self).pointee
        }
        return m
    }

    func model(_ model: Model) throws -> UnsafeMutablePointer<Onnx__ModelProto> {
        let (_, rest) = Residual.split(model.preserved)
        let m: UnsafeMutablePointer<Onnx__ModelProto> = start(onnx__model_proto__unpack, rest) { onnx__model_proto__init($0) }
        if m.pointee.has_ir_version == 0 || m.pointee.ir_version != model.irVersion {
            m.pointee.has_ir_version = 1
            m.pointee.ir_version = model.irVersion
        }
        let old = messages(m.pointee.n_opset_import, m.pointee.opset_import).map {
            OpsetImport(domain: string($0.pointee.domain), version: $0.pointee.version)
        }
        if old != model.opsetImports {
            let opsets = model.opsetImports.map { o -> UnsafeMutablePointer<Onnx__OperatorSetIdProto> in
                let p: UnsafeMutablePointer<Onnx__OperatorSetIdProto> = arena.message { onnx__operator_set_id_proto__init($0) }
                p.pointee.domain = arena.cString(o.domain)
                p.pointee.has_version = 1
                p.pointee.version = o.version
                return p
            }
            m.pointee.n_opset_import = opsets.count
            m.pointee.opset_import = arena.pointers(opsets)
        }
        setString(&m.pointee.producer_name, model.producerName)
        setString(&m.pointee.producer_version, model.producerVersion)
        setString(&m.pointee.domain, model.domain)
        setString(&m.pointee.doc_string, model.docString)
        if m.pointee.model_version != model.modelVersion || (m.pointee.has_model_version == 0 && model.modelVersion != 0) {
            m.pointee.has_model_version = 1
            m.pointee.model_version = model.modelVersion
        }
        let oldMetadata = messages(m.pointee.n_metadata_props, m.pointee.metadata_props).map {
            [string($0.pointee.key), string($0.pointee.value)]
        }
        if oldMetadata != model.metadata.map({ [$0.key, $0.value] }) {
            let entries = model.metadata.map { entry($0.key, $0.value) }
            m.pointee.n_metadata_props = entries.count
            m.pointee.metadata_props = arena.pointers(entries)
        }
        m.pointee.graph = try graph(model.graph)
        return m
    }

    /// Keeps the residual's string when it equals `value` (so presence is kept), else sets it.
    private func setString(_ field: inout UnsafeMutablePointer<CChar>?, _ value: String) {
        if string(field) != value || (field == nil && !value.isEmpty) {
            field = value.isEmpty ? nil : arena.cString(value)
        }
    }

    private func entry(_ key: String, _ value: String) -> UnsafeMutablePointer<Onnx__StringStringEntryProto> {
        let e: UnsafeMutablePointer<Onnx__StringStringEntryProto> = arena.message { onnx__string_string_entry_proto__init($0) }
        e.pointee.key = arena.cString(key)
        e.pointee.value = arena.cString(value)
        return e
    }

    func graph(_ graph: Graph) throws -> UnsafeMutablePointer<Onnx__GraphProto> {
        depth += 1
        defer { depth -= 1 }
        let (flags, rest) = Residual.split(graph.preserved)
        let g: UnsafeMutablePointer<Onnx__GraphProto> = start(onnx__graph_proto__unpack, rest) { onnx__graph_proto__init($0) }
        let presence = PresenceFlags(rawValue: flags)
        g.pointee.name = arena.cString(graph.name, present: presence.contains(.emptyButPresent(0)))
        let nodes = try graph.nodes.map(node)
        g.pointee.n_node = nodes.count
        g.pointee.node = arena.pointers(nodes)
        let initializers = try graph.initializers.map { try tensor($0, external: depth == 1) }
        g.pointee.n_initializer = initializers.count
        g.pointee.initializer = arena.pointers(initializers)
        let sparse = try graph.sparseInitializers.map(sparseTensor)
        g.pointee.n_sparse_initializer = sparse.count
        g.pointee.sparse_initializer = arena.pointers(sparse)
        let inputs = try graph.inputs.map(valueInfo)
        g.pointee.n_input = inputs.count
        g.pointee.input = arena.pointers(inputs)
        let outputs = try graph.outputs.map(valueInfo)
        g.pointee.n_output = outputs.count
        g.pointee.output = arena.pointers(outputs)
        let infos = try graph.valueInfo.map(valueInfo)
        g.pointee.n_value_info = infos.count
        g.pointee.value_info = arena.pointers(infos)
        return g
    }

    func node(_ node: Node) throws -> UnsafeMutablePointer<Onnx__NodeProto> {
        let (flags, rest) = Residual.split(node.preserved)
        let n: UnsafeMutablePointer<Onnx__NodeProto> = start(onnx__node_proto__unpack, rest) { onnx__node_proto__init($0) }
        let presence = PresenceFlags(rawValue: flags)
        n.pointee.name = arena.cString(node.name, present: presence.contains(.emptyButPresent(0)))
        n.pointee.op_type = arena.cString(node.opType, present: presence.contains(.emptyButPresent(1)))
        n.pointee.domain = arena.cString(node.domain, present: presence.contains(.emptyButPresent(2)))
        n.pointee.n_input = node.inputs.count
        n.pointee.input = arena.cStrings(node.inputs)
        n.pointee.n_output = node.outputs.count
        n.pointee.output = arena.cStrings(node.outputs)
        let attributes = try node.attributes.map(attribute)
        n.pointee.n_attribute = attributes.count
        n.pointee.attribute = arena.pointers(attributes)
        return n
    }

    func attribute(_ attribute: Attribute) throws -> UnsafeMutablePointer<Onnx__AttributeProto> {
        let (flags, rest) = Residual.split(attribute.preserved)
        let a: UnsafeMutablePointer<Onnx__AttributeProto> = start(onnx__attribute_proto__unpack, rest) { onnx__attribute_proto__init($0) }
        let presence = PresenceFlags(rawValue: flags)
        a.pointee.name = arena.cString(attribute.name, present: presence.contains(.emptyButPresent(0)))
        var type: Onnx__AttributeProto__AttributeType
        switch attribute.value {
        case .float(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT
            a.pointee.has_f = 1
            a.pointee.f = v
        case .int(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
            a.pointee.has_i = 1
            a.pointee.i = v
        case .string(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING
            a.pointee.has_s = 1
            a.pointee.s = arena.binary(v)
        case .tensor(let t):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR
            a.pointee.t = try tensor(t, external: false)
        case .graph(let g):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH
            a.pointee.g = try graph(g)
        case .sparseTensor(let s):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR
            a.pointee.sparse_tensor = try sparseTensor(s)
        case .typeProto(let p):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO
            a.pointee.tp = try typeProto(p)
        case .floats(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
            a.pointee.n_floats = v.count
            a.pointee.floats = arena.buffer(v)
        case .ints(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
            a.pointee.n_ints = v.count
            a.pointee.ints = arena.buffer(v)
        case .strings(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS
            a.pointee.n_strings = v.count
            a.pointee.strings = arena.buffer(v.map { arena.binary($0) })
        case .tensors(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS
            let ts = try v.map { try tensor($0, external: false) }
            a.pointee.n_tensors = ts.count
            a.pointee.tensors = arena.pointers(ts)
        case .graphs(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS
            let gs = try v.map(graph)
            a.pointee.n_graphs = gs.count
            a.pointee.graphs = arena.pointers(gs)
        case .sparseTensors(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS
            let ss = try v.map(sparseTensor)
            a.pointee.n_sparse_tensors = ss.count
            a.pointee.sparse_tensors = arena.pointers(ss)
        case .typeProtos(let v):
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS
            let tps = try v.map(typeProto)
            a.pointee.n_type_protos = tps.count
            a.pointee.type_protos = arena.pointers(tps)
        case .reference(let name):
            type = a.pointee.type
            if a.pointee.ref_attr_name == nil { a.pointee.ref_attr_name = arena.cString(name) }
        }
        if !presence.contains(.typeAbsent) {
            a.pointee.has_type = 1
            a.pointee.type = type
        }
        return a
    }

    private func typeProto(_ p: Preserved) throws -> UnsafeMutablePointer<Onnx__TypeProto> {
        guard let decoded = unpackMessage(onnx__type_proto__unpack, p.bytes) else {
            let empty: UnsafeMutablePointer<Onnx__TypeProto> = arena.message { onnx__type_proto__init($0) }
            return empty
        }
        arena.retain(decoded)
        return decoded.typed(Onnx__TypeProto.self)
    }

    func valueInfo(_ info: ValueInfo) throws -> UnsafeMutablePointer<Onnx__ValueInfoProto> {
        let (flags, rest) = Residual.split(info.preserved)
        let v: UnsafeMutablePointer<Onnx__ValueInfoProto> = start(onnx__value_info_proto__unpack, rest) { onnx__value_info_proto__init($0) }
        v.pointee.name = arena.cString(info.name, present: PresenceFlags(rawValue: flags).contains(.emptyButPresent(0)))
        // Reuse the original TypeProto (denotations and all) while the IR's type still equals it.
        let original: ValueInfo.ValueType? = try v.pointee.type.map { try ONNXDecoder.valueType($0) }
        if original != info.type {
            v.pointee.type = info.type.map(typeProto)
        }
        return v
    }

    private func typeProto(_ type: ValueInfo.ValueType) -> UnsafeMutablePointer<Onnx__TypeProto> {
        switch type {
        case .other(let p):
            return (try? typeProto(p)) ?? arena.message { onnx__type_proto__init($0) }
        case .tensor(let tt):
            let t: UnsafeMutablePointer<Onnx__TypeProto> = arena.message { onnx__type_proto__init($0) }
            let tensor: UnsafeMutablePointer<Onnx__TypeProto__Tensor> = arena.message { onnx__type_proto__tensor__init($0) }
            tensor.pointee.has_elem_type = 1
            tensor.pointee.elem_type = tt.elementType.rawValue
            if let shape = tt.shape {
                let s: UnsafeMutablePointer<Onnx__TensorShapeProto> = arena.message { onnx__tensor_shape_proto__init($0) }
                let dims = shape.dims.map { d -> UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension> in
                    let dim: UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension> = arena.message {
                        onnx__tensor_shape_proto__dimension__init($0)
                    }
                    switch d {
                    case .fixed(let v):
                        dim.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                        dim.pointee.dim_value = Int64(v)
                    case .symbol(let name):
                        dim.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                        dim.pointee.dim_param = arena.cString(name)
                    case .unknown:
                        break
                    }
                    return dim
                }
                s.pointee.n_dim = dims.count
                s.pointee.dim = arena.pointers(dims)
                tensor.pointee.shape = s
            }
            t.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
            t.pointee.tensor_type = tensor
            return t
        }
    }
}
