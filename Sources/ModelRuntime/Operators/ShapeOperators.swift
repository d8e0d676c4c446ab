import ModelIR

/// Operators that change only the view of data, produce constants, or convert types: Flatten,
/// Reshape, Squeeze, Unsqueeze, Shape, Size, Identity, Dropout, Constant, ConstantOfShape, Cast.
enum ShapeOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.flatten, since: 1) { n, v in try flatten(n, v) },
        KernelEntry(.reshape, 1...4) { n, _ in
            let shape = n.intList("shape") ?? []
            return { inputs, _ in [try reshape(try inputs.required(0), shape, allowZero: false)] }
        },
        KernelEntry(.reshape, since: 5) { n, _ in
            let allowZero = ReshapeAttributes(n).allowZero
            return { inputs, _ in
                guard let shape = inputs.ints(1) else { throw ModelError("required input 1 (shape) is missing") }
                return [try reshape(try inputs.required(0), shape, allowZero: allowZero)]
            }
        },
        KernelEntry(.squeeze, 1...12) { n, _ in let axes = n.intList("axes"); return { i, _ in [try squeeze(try i.required(0), axes)] } },
        KernelEntry(.squeeze, since: 13) { _, _ in { i, _ in [try squeeze(try i.required(0), i.ints(1))] } },
        KernelEntry(.unsqueeze, 1...12) { n, _ in
            let axes = n.intList("axes") ?? []
            return { i, _ in [try unsqueeze(try i.required(0), axes)] }
        },
        KernelEntry(.unsqueeze, since: 13) { _, _ in
            { i, _ in
                guard let axes = i.ints(1) else { throw ModelError("required input 1 (axes) is missing") }
                return [try unsqueeze(try i.required(0), axes)]
            }
        },
        KernelEntry(.shape, since: 1) { n, _ in
            let start = Int(clamping: ShapeAttributes(n).start), end = n.ints("end").map { Int(clamping: $0[0]) }
            return { inputs, ctx in
                let dims = try inputs.required(0).shape
                func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + dims.count : v, 0), dims.count) }
                let (s, e) = (clamp(start), clamp(end ?? dims.count))
                let slice = s < e ? Array(dims[s..<e]) : []
                return [try ctx.int64s([slice.count], slice.map { Int64($0) })]
            }
        },
        KernelEntry(.size, since: 1) { _, _ in { i, ctx in [try ctx.int64s([], [Int64(try i.required(0).count)])] } },
        KernelEntry(.identity, since: 1) { _, _ in { i, _ in [try i.required(0)] } },
        KernelEntry(.dropout, since: 1) { _, _ in
            // Inference: the output is the input and the mask is all true.
            { inputs, ctx in
                let x = try inputs.required(0)
                let mask = try ctx.int64s(x.shape)
                mask.i.initialize(repeating: 1, count: x.count)
                return [x, mask]
            }
        },
        KernelEntry(.constant, since: 1) { n, _ in
            let value = try constantValue(n)
            return { _, _ in [value] }
        },
        KernelEntry(.constantOfShape, since: 9) { n, _ in
            let value = try n[attribute: "value"]?.tensor.map { try RuntimeTensor($0) }
            if let value, value.count != 1 { throw ModelError("value must hold one element, has shape \(value.shape)") }
            return { inputs, ctx in
                guard let shape = inputs.ints(0) else { throw ModelError("required input 0 (shape) is missing") }
                let y = try ctx.tensor(shape, value?.elementType ?? .float32)
                if y.elementType == .int64 { y.i.initialize(repeating: value!.i[0], count: y.count) }
                else { y.f.initialize(repeating: value?.f[0] ?? 0, count: y.count) }
                return [y]
            }
        },
        KernelEntry(.cast, since: 1) { n, _ in try cast(n) },
    ]

    static func flatten(_ node: Node, _ opset: Int) throws -> OperatorFunction {
        let axis = try node.axisValue(opset: opset)
        return { inputs, _ in
            let x = try inputs.required(0)
            let a = axis < 0 ? axis + x.rank : axis
            guard a >= 0 && a <= x.rank else { throw ModelError("axis \(axis) is out of range for rank \(x.rank)") }
            return [x.reshaped([product(x.shape[..<a]), product(x.shape[a...])])]
        }
    }

    /// Reshape: 0 copies the input dimension (unless `allowZero`), -1 is inferred.
    static func reshape(_ x: RuntimeTensor, _ requested: [Int], allowZero: Bool) throws -> RuntimeTensor {
        var shape = requested
        var inferred: Int?
        for (k, d) in requested.enumerated() {
            if d == 0 && !allowZero {
                guard k < x.rank else { throw ModelError("shape \(requested) copies dimension \(k) of \(x.shape), which has none") }
                shape[k] = x.shape[k]
            } else if d == -1 {
                guard inferred == nil else { throw ModelError("shape \(requested) has more than one -1") }
                inferred = k
            } else if d < 0 {
                throw ModelError("shape \(requested) has invalid dimension \(d)")
            }
        }
        if let k = inferred {
            let known = shape.enumerated().filter { $0.offset != k }.reduce(1) { $0 * $1.element }
            guard known > 0, x.count % known == 0 else { throw ModelError("cannot reshape \(x.shape) to \(requested)") }
            shape[k] = x.count / known
        }
        guard try RuntimeTensor.elementCount(shape) == x.count else {
            throw ModelError("cannot reshape \(x.shape) (\(x.count) elements) to \(requested)")
        }
        return x.reshaped(shape)
    }

    static func squeeze(_ x: RuntimeTensor, _ axes: [Int]?) throws -> RuntimeTensor {
        guard let axes else { return x.reshaped(x.shape.filter { $0 != 1 }) }
        let drop = Set(try normalizeAxes(axes, rank: x.rank))
        for a in drop where x.shape[a] != 1 {
            throw ModelError("cannot squeeze axis \(a) of size \(x.shape[a]) in \(x.shape)")
        }
        return x.reshaped(x.shape.enumerated().filter { !drop.contains($0.offset) }.map(\.element))
    }

    static func unsqueeze(_ x: RuntimeTensor, _ axes: [Int]) throws -> RuntimeTensor {
        let rank = x.rank + axes.count
        let insert = Set(try normalizeAxes(axes, rank: rank))
        var dims = x.shape.makeIterator()
        return x.reshaped((0..<rank).map { insert.contains($0) ? 1 : dims.next()! })
    }

    static func constantValue(_ node: Node) throws -> RuntimeTensor {
        guard let a = node.attributes.first else { throw ModelError("Constant has no value attribute") }
        switch a.name {
        case "value": return try RuntimeTensor(a.tensor ?? { throw ModelError("value is not a tensor") }())
        case "value_float": return try RuntimeTensor(shape: [], floats: [a.float ?? 0])
        case "value_floats": let v = a.floats ?? []; return try RuntimeTensor(shape: [v.count], floats: v)
        case "value_int": return try RuntimeTensor(shape: [], int64s: [a.int ?? 0])
        case "value_ints": let v = a.ints ?? []; return try RuntimeTensor(shape: [v.count], int64s: v)
        default: throw ModelError("Constant attribute '\(a.name)' is not supported")
        }
    }

    static func cast(_ node: Node) throws -> OperatorFunction {
        let code = CastAttributes(node).to
        guard let to = DataType(rawValue: Int32(truncatingIfNeeded: code)), to.isNumeric else {
            throw ModelError("cast to type \(code) is not supported")
        }
        return { inputs, ctx in
            let x = try inputs.required(0)
            switch to {
            case .int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64, .bool:
                let v = x.int64s
                let y = try ctx.int64s(x.shape)
                for k in 0..<v.count {
                    let i = v[k]
                    switch to {
                    case .int32: y.i[k] = Int64(Int32(truncatingIfNeeded: i))
                    case .int16: y.i[k] = Int64(Int16(truncatingIfNeeded: i))
                    case .int8: y.i[k] = Int64(Int8(truncatingIfNeeded: i))
                    case .uint8: y.i[k] = Int64(UInt8(truncatingIfNeeded: i))
                    case .uint16: y.i[k] = Int64(UInt16(truncatingIfNeeded: i))
                    case .uint32: y.i[k] = Int64(UInt32(truncatingIfNeeded: i))
                    case .bool: y.i[k] = x.elementType == .float32 ? (x.f[k] != 0 ? 1 : 0) : (i != 0 ? 1 : 0)
                    default: y.i[k] = i
                    }
                }
                return [y]
            default:
                return [try ctx.asFloat(x)]
            }
        }
    }
}
