import ModelIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Conv and ConvTranspose.
enum ConvolutionOperators {
    static let entries: [KernelEntry] = [
        KernelEntry(.conv, since: 1) { n, _ in try conv(n) },
        KernelEntry(.convTranspose, since: 1) { n, _ in try convTranspose(n) },
    ]

    /// Borrows `count` floats of scratch from the arena for the duration of `body`.
    static func withScratch<R>(_ ctx: ExecContext, _ count: Int, _ body: (UnsafeMutablePointer<Float>?) throws -> R) rethrows -> R {
        guard count > 0 else { return try body(nil) }
        let b = ctx.arena.take(byteCount: count * 4)
        defer { ctx.arena.give(b) }
        return try body(b.raw.assumingMemoryBound(to: Float.self))
    }

    /// Checks X and W ranks and the group split, returning (batch, channels, spatial sizes, kernel).
    static func checkShapes(_ x: RuntimeTensor, _ w: RuntimeTensor, groups: Int, kernelShape: [Int]?) throws
        -> (Int, Int, [Int], [Int]) {
        guard x.rank >= 3 && x.rank <= 5 else { throw ModelError("X has shape \(x.shape), expected rank 3 to 5") }
        guard w.rank == x.rank else { throw ModelError("W has shape \(w.shape), expected rank \(x.rank) like X \(x.shape)") }
        guard groups >= 1, x.shape[1] % groups == 0 else {
            throw ModelError("group \(groups) does not divide the \(x.shape[1]) input channels")
        }
        let kernel = Array(w.shape[2...])
        if let k = kernelShape, k != kernel { throw ModelError("kernel_shape \(k) disagrees with W \(w.shape)") }
        return (x.shape[0], x.shape[1], Array(x.shape[2...]), kernel)
    }

    static func bias(_ inputs: [RuntimeTensor?], _ channels: Int, _ ctx: ExecContext) throws -> RuntimeTensor? {
        guard let b = inputs.optional(2) else { return nil }
        guard b.count == channels else { throw ModelError("B has shape \(b.shape), expected [\(channels)]") }
        return try ctx.asFloat(b)
    }

    static func conv(_ node: Node) throws -> OperatorFunction {
        let run = try fusableConv(node)
        return { inputs, ctx in try run(inputs, ctx) { m, bias in ConvEpilogue(bias: bias?.f, channels: m) } }
    }

    /// Conv whose caller supplies the epilogue from the output channel count and the bias (the
    /// interpreter's fused Conv → BatchNormalization → Relu/Clip steps use this). When the context
    /// asks for plane statistics, the epilogue also counts the finished output.
    static func fusableConv(_ node: Node) throws
        -> (_ inputs: [RuntimeTensor?], _ ctx: ExecContext, _ epilogue: (Int, RuntimeTensor?) throws -> ConvEpilogue) throws
        -> [RuntimeTensor] {
        let params = try WindowAttributes.forKernels(node)
        let groups = ConvAttributes(node).group
        let packedWeights = PackedWeights(), blockedWeights = PackedWeights()
        let blockedPlans = PlanCache<BlockedConvolution>(), directPlans = PlanCache<(ConvLayout, DirectConvolution?)>()
        return { inputs, ctx, makeEpilogue in
            var x = try ctx.asFloat(try inputs.required(0))
            let w = try ctx.asFloat(try inputs.required(1))
            let (batch, channels, spatial, kernel) = try checkShapes(x, w, groups: groups, kernelShape: params.kernelShape)
            // A plain X of whole channel blocks (after a channel shuffle, a Transpose or a graph
            // input) is put in the blocked layout first, as onnxruntime reorders its input: the copy
            // costs one pass over X, and the blocked kernel then reads 16 channels per load
            // (ShuffleNet's 464 → 1024 1×1 convolution on 7×7: 0.91 → 0.63 ms; onnxruntime 0.32).
            var reordered: RuntimeTensor?
            if ctx.blockedLayout, !x.blocked, x.rank == 4, groups == 1, channels % BlockedLayout.lanes == 0, channels >= 2 * BlockedLayout.lanes,
               w.shape[0] >= BlockedLayout.lanes {
                let b = try BlockedLayout.blocked(x, ctx)
                (x, reordered) = (b, b)
            }
            defer { if let copy = reordered.take() { ctx.recycle(copy) } }
            let m = w.shape[0]
            guard w.shape[1] == channels / groups, m % groups == 0 else {
                throw ModelError("W \(w.shape) does not fit \(channels) input channels in \(groups) group(s)")
            }
            var epilogue = try makeEpilogue(m, try bias(inputs, m, ctx))
            let sizes = [batch, channels, m] + spatial + kernel
            func makeLayout() throws -> ConvLayout {
                ConvLayout(batch: batch, inChannels: channels, outChannels: m, groups: groups,
                           geometry: try WindowGeometry(spatial: spatial, kernel: kernel, params))
            }
            // Vectors along output channels when the input is blocked or the output is to be (every
            // reader takes it blocked, as the interpreter planned).
            // A C that is not a multiple of 16 is stored in a padded last block
            // (`BlockedLayout.paddedChannels`); the interpreter plans that only for convolutions'
            // inputs.
            let blockedOutput = ctx.blockedOutput && x.rank == 4
            // A plain Y is scattered from the blocked kernel's tiles value by value; when each output
            // sums few products (a 1×1 convolution of 16 channels) that costs more than the sums, and
            // the plain kernels on a plain copy of X run several times faster (MobileNetV3's 16 → 72).
            let scatterBound = !blockedOutput && groups == 1 && channels * kernel.reduce(1, *) < 64
            let blockedPlan = x.rank == 4 && (x.blocked || blockedOutput) && !scatterBound
                ? try blockedPlans.plan(sizes + [x.blocked ? 1 : 0, blockedOutput ? 1 : 0], for: ctx.arena) { () throws -> BlockedConvolution? in
                    let layout = try makeLayout()
                    guard BlockedConvolution.applies(to: layout, inputBlocked: x.blocked) else { return nil }
                    return BlockedConvolution(layout, inputBlocked: x.blocked, outputBlocked: blockedOutput)
                } : nil
            if let kernel = blockedPlan {
                let layout = kernel.l
                let y = blockedOutput ? try ctx.blockedFloats([batch, m] + layout.geometry.outputShape)
                    : try ctx.floats([batch, m] + layout.geometry.outputShape)
                // A blocked Y is counted by the kernel, a plain one afterwards over its planes.
                let statistics = ctx.statistics?.claim(shape: y.shape)
                // Keyed by the packing's order too: the vectors summed together depend on the row
                // width (`BlockedConvolution.groups`), so another image size may pack differently.
                let order = [1, kernel.depthwise ? 1 : 0, channels, m, kernel.kvol] + kernel.groups.map(\.count)
                let packed = blockedWeights.packed(w, key: order, count: kernel.packedWeights, kernel.pack)
                // The plan's own scratch when it keeps one (its border already zero), else the arena's.
                let workers = layout.workers(threads: ctx.threads)
                let kept = kernel.keptScratch(workers: workers)
                withScratch(ctx, kept == nil ? kernel.scratchCount(workers: workers) : 0) { shared in
                    withExtendedLifetime(packed) {
                        kernel.run(x.f, packed: packed.floats, epilogue, y.f, scratch: kept ?? shared, zeroBorders: kept == nil,
                                   threads: ctx.threads, statistics: blockedOutput ? statistics : nil)
                    }
                }
                if let sink = statistics, !blockedOutput { sink.recordPlanes(of: y) }
                return [y]
            }
            // Otherwise the plain kernels, from a plain copy of a blocked X (given back afterwards).
            var plain = x.blocked ? try BlockedLayout.planar(x, ctx) : nil
            let xf = plain?.f ?? x.f
            let (layout, direct) = try directPlans.plan(sizes, for: ctx.arena) { () throws -> (ConvLayout, DirectConvolution?)? in
                let layout = try makeLayout()
                return (layout, layout.isDirect ? DirectConvolution(layout) : nil)
            }!
            let y = try ctx.floats([batch, m] + layout.geometry.outputShape)
            // Wanted statistics are counted by the epilogue, plane by plane, as it finishes them.
            epilogue.statistics = ctx.statistics?.claim(shape: y.shape)
            let packed = direct.map { d in
                packedWeights.packed(w, key: [0, d.packedWeights, d.packWidth, d.l.groups, d.l.inPerGroup, d.l.outPerGroup],
                                     count: d.packedWeights, d.pack)
            }
            withScratch(ctx, layout.scratchCount(threads: ctx.threads, direct: direct)) { scratch in
                withExtendedLifetime(packed) {
                    convolution(xf, w.f, packed: packed?.floats, direct: direct, epilogue, y.f, layout, scratch: scratch,
                                threads: ctx.threads)
                }
            }
            if let copy = plain.take() { ctx.recycle(copy) }
            return [y]
        }
    }

    /// A Conv's plan (layout and kernel) for the last sizes it ran with, one per arena (a batch
    /// slice's lane, so one per thread), kept from one batch to the next: building one allocates
    /// its tables (taps, pieces, groups), several times per convolution per batch, a share of a
    /// small model's time at batch 1. Per lane, because the kernels retain those tables in their
    /// loops: one plan shared by the threads of batch slices bounced the tables' reference counts
    /// between the cores (VGG-style, batch 64 on 2 threads: 22.6K → 20.0K images/s). `make`
    /// returns nil when no plan applies (remembered too).
    final class PlanCache<Plan>: @unchecked Sendable {
        private var lock = pthread_mutex_t()
        private var entries: [ObjectIdentifier: (key: [Int], plan: Plan?)] = [:]

        init() { pthread_mutex_init(&lock, nil) }
        deinit { pthread_mutex_destroy(&lock) }

        func plan(_ key: [Int], for arena: Arena, _ make: () throws -> Plan?) rethrows -> Plan? {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            let lane = ObjectIdentifier(arena)
            if let entry = entries[lane], entry.key == key { return entry.plan }
            let plan = try make()
            // A lane per thread in the interpreter; callers that pass a fresh arena each time
            // (training's gradient kernels) must not grow the table without end.
            if entries.count >= 16 { entries.removeAll() }
            entries[lane] = (key, plan)
            return plan
        }
    }

    /// The direct kernel's packed copy of a Conv's weights, kept from one batch to the next (a
    /// batch of one image would otherwise spend a large share of its time repacking). The copy is
    /// reused while the weights are the same buffer: tensors never change once made, and holding
    /// the buffer keeps the arena from handing it out again. Safe to call from the threads of
    /// batch slices (the first caller packs, under the lock).
    final class PackedWeights: @unchecked Sendable {
        private var lock = pthread_mutex_t()
        private var source: TensorBuffer?
        private var layout: [Int] = []
        private var values: TensorBuffer?

        init() { pthread_mutex_init(&lock, nil) }
        deinit { pthread_mutex_destroy(&lock) }

        /// W packed by `pack` into `count` floats; `key` tells packings of different shapes apart.
        func packed(_ w: RuntimeTensor, key: [Int], count: Int,
                    _ pack: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> TensorBuffer {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            if let values, source === w.buffer, layout == key { return values }
            let fresh = TensorBuffer(byteCount: count * 4, zeroed: true, pages: .populated)
            pack(w.f, fresh.floats)
            (values, source, layout) = (fresh, w.buffer, key)
            return fresh
        }
    }

    static func convTranspose(_ node: Node) throws -> OperatorFunction {
        let params = try WindowAttributes.forKernels(node)
        let groups = ConvAttributes(node).group
        let outputShape = params.outputShape
        return { inputs, ctx in
            let x = try ctx.asFloat(try inputs.required(0)), w = try ctx.asFloat(try inputs.required(1))
            let (batch, channels, spatial, kernel) = try checkShapes(x, w, groups: groups, kernelShape: params.kernelShape)
            guard w.shape[0] == channels else { throw ModelError("W \(w.shape) does not fit \(channels) input channels") }
            let m = w.shape[1] * groups
            let b = try bias(inputs, m, ctx)
            let r = spatial.count
            let strides = params.strides(rank: r), dilations = params.dilations(rank: r)
            let pads = params.pads(rank: r), extra = params.outputPadding(rank: r)
            guard strides.count == r, dilations.count == r, pads.count == 2 * r, extra.count == r else {
                throw ModelError("strides, dilations, pads or output_padding do not match \(r) spatial axes")
            }
            if let s = outputShape, s.count < r { throw ModelError("output_shape \(s) has fewer than \(r) axes") }
            // The forward convolution this op is the adjoint of: its input is Y, its output X.
            var g = WindowGeometry()
            g.rank = r
            for a in 0..<r {
                let i = a + 3 - r
                let extent = (kernel[a] - 1) * dilations[a] + 1
                let full = strides[a] * (spatial[a] - 1) + extra[a] + extent
                var out: Int, begin: Int
                if let s = outputShape {
                    out = s[s.count - r + a]
                } else if params.autoPad == .sameUpper || params.autoPad == .sameLower {
                    out = spatial[a] * strides[a]
                } else if params.autoPad == .valid {
                    out = full
                } else {
                    out = full - pads[a] - pads[a + r]
                }
                if outputShape != nil || params.autoPad == .sameUpper || params.autoPad == .sameLower {
                    let total = full - out
                    begin = params.autoPad == .sameUpper ? total / 2 : total - total / 2
                } else {
                    begin = params.autoPad == .valid ? 0 : pads[a]
                }
                guard out >= 1 else { throw ModelError("output size \(out) along spatial axis \(a) is not positive") }
                g.input[i] = out; g.output[i] = spatial[a]; g.kernel[i] = kernel[a]
                g.stride[i] = strides[a]; g.dilation[i] = dilations[a]; g.padBegin[i] = begin
            }
            let layout = ConvLayout(batch: batch, inChannels: channels, outChannels: m, groups: groups, geometry: g)
            let y = try ctx.floats([batch, m] + g.input.suffix(r))
            try withScratch(ctx, layout.outPerGroup * g.kernelVolume * g.outputVolume) { scratch in
                guard let scratch else { throw ModelError("empty transposed convolution") }
                transposedConvolution(x.f, w.f, b?.f, y.f, layout, scratch: scratch, threads: ctx.threads)
            }
            return [y]
        }
    }
}
