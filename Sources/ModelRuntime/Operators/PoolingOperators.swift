import ModelIR

/// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
enum PoolingOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.maxPool, since: 1) { n, _ in try pool(n, max: true) },
        KernelEntry(.averagePool, since: 1) { n, _ in try pool(n, max: false) },
        KernelEntry(.globalAveragePool, since: 1) { _, _ in global(max: false) },
        KernelEntry(.globalMaxPool, since: 1) { _, _ in global(max: true) },
    ]

    static func pool(_ node: Node, max: Bool) throws -> OperatorFunction {
        let params = try WindowAttributes.forKernels(node)
        guard let kernel = params.kernelShape else { throw ModelError("kernel_shape is required") }
        let countPadding = params.countIncludePad, columnMajor = params.columnMajorIndices
        if columnMajor && kernel.count != 2 && node.outputs.count > 1 {
            throw ModelError("storage_order=1 indices are only supported for 2-D pooling")
        }
        let wantsIndices = node.outputs.count > 1 && !node.outputs[1].isEmpty
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0))
            guard x.rank == kernel.count + 2 else {
                throw ModelError("X has shape \(x.shape), expected rank \(kernel.count + 2) for kernel \(kernel)")
            }
            let g = try WindowGeometry(spatial: Array(x.shape[2...]), kernel: kernel, params)
            let planes = x.shape[0] * x.shape[1]
            if x.blocked && !wantsIndices {
                // The interpreter only hands a blocked X to a pooling that has no indices output.
                var y = try ctx.floats(Array(x.shape[..<2]) + g.outputShape)
                y.blocked = true
                BlockedLayout.pool(x.f, y.f, blocks: planes / BlockedLayout.lanes, g, max: max, countPadding: countPadding,
                                   threads: ctx.threads)
                return [y]
            }
            let y = try ctx.floats(Array(x.shape[..<2]) + g.outputShape)
            if max {
                let indices = wantsIndices ? try ctx.int64s(y.shape) : nil
                maxPool(x.f, y.f, indices: indices?.i, planes: planes, g, columnMajor: columnMajor, threads: ctx.threads)
                return indices.map { [y, $0] } ?? [y]
            }
            averagePool(x.f, y.f, planes: planes, g, countPadding: countPadding, threads: ctx.threads)
            return [y]
        }
    }

    static func global(max: Bool) -> OperatorFunction {
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0))
            guard x.rank >= 2 else { throw ModelError("X has shape \(x.shape), expected rank ≥ 2") }
            let y = try ctx.floats(Array(x.shape[..<2]) + [Int](repeating: 1, count: x.rank - 2))
            if x.blocked {
                BlockedLayout.globalPool(x.f, y.f, blocks: x.shape[0] * x.shape[1] / BlockedLayout.lanes,
                                         plane: product(x.shape[2...]), max: max, threads: ctx.threads)
                return [y]
            }
            globalPool(x.f, y.f, planes: x.shape[0] * x.shape[1], size: product(x.shape[2...]), max: max,
                       threads: ctx.threads)
            return [y]
        }
    }
}
