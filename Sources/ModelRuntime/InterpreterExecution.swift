import CBLAS
import ModelIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Execution: running the planned steps for one batch and handing outputs to the observer.
extension Interpreter {
    /// Runs one batch. `inputs` maps graph input names to tensors; returns every graph output.
    ///
    /// A batch of a graph whose samples are independent (`splitsBatches`) runs as slices of at
    /// most `chunkSamples` samples (and at least one per thread), each slice through the whole
    /// graph on one thread: no hand-off between threads inside the graph, so the threads scale
    /// like separate processes, and each layer's output for a slice stays in cache for the next.
    /// Otherwise the operators split their own work. An observer then sees each output once per
    /// slice, slices in batch order, one call at a time.
    public func run(inputs: [String: RuntimeTensor], observer: (any RuntimeObserver)? = nil) throws
        -> [String: RuntimeTensor] {
        // The runtime splits work over `threads` itself, BLAS calls included (see `sgemm`). Not
        // openblas_set_num_threads on every run: it restarts the helper pool that
        // `singleThreadedBLAS` shut down, and the restarted threads spin for 0.1 s.
        Interpreter.singleThreadedBLAS
        reclaimOutputs()
        // Each output is asked about once per run, before any step runs: the answers also decide
        // which fusable chains run fused (those whose outputs in between nobody wants).
        let wanted: [[Observation]]? = observer.map { o in
            steps.map { step in
                step.node.outputs.map { name -> Observation in
                    guard !name.isEmpty, o.wantsOutput(of: step.node, named: name) else { return .none }
                    return o.wantsPlaneStatistics(of: step.node, named: name) ? .planeStatistics : .tensor
                }
            }
        }
        let out: [String: RuntimeTensor]
        var sliced: [String: RuntimeTensor]?
        if splitsBatches, let batch = commonBatch(inputs), batch >= 2, threads > 1 || batch > Self.chunkSamples {
            do {
                sliced = try runSlices(inputs, batch: batch, workers: min(threads, batch), observer, wanted)
            } catch where observer == nil {
                // A graph that only looked per-sample (an output that merges samples, say): from
                // now on it runs whole, which also reports any real error. With an observer the
                // error stands, since the slices may have been observed already.
                splitsBatches = false
            }
        }
        if let sliced {
            out = sliced
        } else {
            var times = [Int: Double]()
            let lane = Lane(arena: arena, table: planeStatistics, threads: threads, order: nil)
            out = try runSteps(inputs, lane, observer, wanted, times: &times)
            if profiling { stepSeconds.merge(times, uniquingKeysWith: +) }
        }
        lastOutputs = Array(out.values)
        return out
    }

    /// One pass over the planned steps with `inputs`, adding each step's seconds to `times`
    /// when profiling.
    func runSteps(_ inputs: [String: RuntimeTensor], _ lane: Lane, _ observer: (any RuntimeObserver)?,
                          _ wanted: [[Observation]]?, times: inout [Int: Double]) throws -> [String: RuntimeTensor] {
        let ctx = ExecContext(arena: lane.arena, threads: lane.threads)
        var values = [RuntimeTensor?](repeating: nil, count: slotOf.count)
        for (s, t) in constants { values[s] = t }
        for name in inputs.keys where !inputSlots.contains(where: { $0.info.name == name }) {
            throw ModelError("'\(name)' is not an input of the graph (inputs: \(inputSlots.map(\.info.name).joined(separator: ", ")))")
        }
        for (info, s) in inputSlots {
            guard let t = inputs[info.name] else {
                if values[s] != nil { continue }
                throw ModelError("missing graph input '\(info.name)'")
            }
            values[s] = try checkedInput(t, info, ctx)
        }
        var skip = [Bool](repeating: false, count: chains.isEmpty ? 0 : steps.count)
        for (k, step) in steps.enumerated() {
            if !skip.isEmpty && skip[k] {
                // Part of a chain that already ran fused; its intermediates were never made.
            } else if let chain = chains[k],
                      wanted.map({ w in !chain.members.dropLast().contains { w[$0].contains { $0 != .none } } }) ?? true {
                let start = profiling ? monotonicSeconds() : 0
                try execute(chain.step, k, &values, ctx, lane, observer, wanted: wanted?[chain.members.last!])
                if profiling { times[k, default: 0] += monotonicSeconds() - start }
                for m in chain.members.dropFirst() { skip[m] = true }
            } else {
                let start = profiling ? monotonicSeconds() : 0
                try execute(step, k, &values, ctx, lane, observer, wanted: wanted?[k])
                if profiling { times[k, default: 0] += monotonicSeconds() - start }
            }
            for s in step.release {
                guard var t = values[s] else { continue }
                values[s] = nil
                // Only a buffer no other tensor refers to (a Reshape alias, the caller) goes back.
                if isKnownUniquelyReferenced(&t.buffer) { lane.arena.give(t.buffer) }
            }
        }
        var out: [String: RuntimeTensor] = [:]
        for (name, s) in outputSlots {
            guard var t = values[s] else { throw ModelError("graph output '\(name)' was not computed") }
            if t.blocked {
                values[s] = try BlockedLayout.planar(t, ctx)
                if isKnownUniquelyReferenced(&t.buffer) { lane.arena.give(t.buffer) }
            }
            out[name] = values[s]!
        }
        return out
    }

    /// Gives back the buffers of earlier outputs that nobody holds any more, so a loop over
    /// batches that drops each result allocates nothing after the first batch.
    func reclaimOutputs() {
        let constantBuffers = Set(constants.map { ObjectIdentifier($0.tensor.buffer) })
        var outputs = lastOutputs
        lastOutputs = []
        while var t = outputs.popLast() {
            if !constantBuffers.contains(ObjectIdentifier(t.buffer)) && isKnownUniquelyReferenced(&t.buffer) {
                arena.give(t.buffer)
            }
        }
    }

    /// Runs one step and stores its outputs; its argument and result arrays end here, so that
    /// released buffers are uniquely referenced afterwards.
    func execute(_ step: Step, _ index: Int, _ values: inout [RuntimeTensor?], _ ctx: ExecContext, _ lane: Lane,
                         _ observer: (any RuntimeObserver)?, wanted: [Observation]?) throws {
        // Built only for an error, not on every step of every batch.
        func place() -> String { "node '\(step.node.displayName)' (\(step.node.opType))" }
        var args = step.inputs.map { $0.flatMap { values[$0] } }
        for (k, s) in step.inputs.enumerated() where s != nil && args[k] == nil {
            throw ModelError("\(place()): input '\(step.node.inputs[k])' was not computed")
        }
        // Blocked inputs the step does not take as they are become plain copies, given back after it.
        var converted: [RuntimeTensor] = []
        // A padded last block (`BlockedLayout.paddedChannels`) goes only to a convolution's X as
        // it is: any other operator would count the pad's floats in or miss the tail.
        for k in args.indices where !(step.readsPaddedBlocks && k == 0) {
            guard let t = args[k], t.blocked, BlockedLayout.isPadded(t.shape) else { continue }
            let plain = try BlockedLayout.planar(t, ctx)
            converted.append(plain)
            args[k] = plain
        }
        let blocked = args.contains { $0?.blocked == true }
        var relabel = false
        // A blocked tensor with a per-channel operand (a squeeze-excitation gate) stays blocked.
        var channelBroadcast: BlockedLayout.ChannelBroadcast?
        if blocked {
            let present = args.compactMap { $0 }
            let allBlocked = present.allSatisfy { $0.blocked }
            switch step.blockedUse {
            case .elementwise: relabel = args[0]?.blocked == true
            case .sameShape:
                relabel = allBlocked && present.allSatisfy { $0.shape == present[0].shape }
                if !relabel { channelBroadcast = BlockedLayout.ChannelBroadcast(step.node, args) }
            default: break
            }
            func keeps(_ k: Int) -> Bool {
                switch step.blockedUse {
                case .none: return false
                case .operatorInput, .elementwise: return k == 0
                case .sameShape: return relabel || channelBroadcast != nil
                case .channelConcat: return allBlocked
                }
            }
            for k in args.indices where args[k]?.blocked == true && !keeps(k) {
                let plain = try BlockedLayout.planar(args[k]!, ctx)
                converted.append(plain)
                args[k] = plain
            }
        }
        // A single output whose statistics are wanted is counted by its kernel when the operator
        // can (it claims the table); otherwise the observer scans the tensor. Operators running on
        // blocked storage as if it were plain (`relabel`) must not count: their planes are not
        // channels.
        var stepCtx = ctx
        stepCtx.blockedOutput = blockedLayout && step.blockedOutput
        stepCtx.blockedLayout = blockedLayout
        let table = lane.table
        if step.outputs.count == 1, wanted?[0] == .planeStatistics, !relabel, channelBroadcast == nil {
            table.release()
            table.region = observer?.countedRegion(of: step.node, named: step.node.outputs[0]) ?? .zeros
            stepCtx.statistics = table
        }
        defer { table.release() }
        var results: [RuntimeTensor]
        do {
            results = try channelBroadcast.map { [try $0.run(stepCtx)] } ?? step.run(args, stepCtx)
        } catch let e as ModelError { throw e.at(place()) }
        if relabel { results[0].blocked = true }
        args = []
        while let t = converted.popLast() { ctx.recycle(t) }
        for (k, o) in step.outputs.enumerated() {
            guard let o else { continue }
            guard k < results.count else { throw ModelError("\(place()): output \(k) is not produced") }
            values[o] = results[k]
            guard let observer, let how = wanted?[k], how != .none else { continue }
            let name = step.node.outputs[k]
            if how == .planeStatistics { table.region = observer.countedRegion(of: step.node, named: name) }
            // A blocked output is counted (or converted) here, before the observer's turn, so that
            // the slices do it side by side.
            var tensor: RuntimeTensor, planes: Bool
            (tensor, planes) = try observable(results[k], how, observer, counted: stepCtx.statistics != nil, table, ctx)
            func deliver() throws {
                if planes {
                    try observer.observe(node: step.node, output: name, tensor: tensor, planes: table.planes)
                } else {
                    try observer.observe(node: step.node, output: name, tensor: tensor)
                }
            }
            if let (turns, slice) = lane.order {
                try turns.take(slice: slice, step: index, deliver)
            } else {
                try deliver()
            }
            if tensor.buffer !== results[k].buffer {
                // The plain copy goes back to the arena.
                let copy = tensor
                tensor = results[k]
                ctx.recycle(consume copy)
            }
        }
    }

    /// The tensor an observer is handed for `output`, and whether `table` holds its planes'
    /// statistics (`counted`: the step's kernel was asked to count). A blocked output is handed
    /// plain (a copy), its planes counted over the copy; an observer that reads only the shape
    /// with the statistics (`RuntimeObserver.readsValuesWithPlaneStatistics`) is handed the
    /// blocked tensor instead, with the counts of its kernel (a blocked convolution counts its
    /// blocks in L1) or of `BlockedLayout.planeStatistics`.
    func observable(_ output: RuntimeTensor, _ how: Observation, _ observer: any RuntimeObserver, counted: Bool,
                            _ table: PlaneStatisticsTable, _ ctx: ExecContext) throws -> (RuntimeTensor, Bool) {
        guard output.blocked else { return (output, counted && table.shape == output.shape) }
        if how == .planeStatistics && !observer.readsValuesWithPlaneStatistics {
            // Counted by the kernel (a blocked convolution), or here.
            if counted && table.shape == output.shape { return (output, true) }
            table.release()
            BlockedLayout.planeStatistics(output, into: table.claim(shape: output.shape), threads: ctx.threads)
            return (output, true)
        }
        let plain = try BlockedLayout.planar(output, ctx)
        guard how == .planeStatistics else { return (plain, false) }
        table.release()
        table.claim(shape: plain.shape).recordPlanes(of: plain)
        return (plain, true)
    }

    /// Checks a fed tensor against the declared input type. The first dimension may differ from
    /// a fixed declaration, since exporters often fix the batch size to 1.
    func checkedInput(_ t: RuntimeTensor, _ info: ValueInfo, _ ctx: ExecContext) throws -> RuntimeTensor {
        guard let type = info.tensorType else { return t }
        if let shape = type.shape {
            guard shape.rank == t.rank else {
                throw ModelError("graph input '\(info.name)' has shape \(t.shape), expected rank \(shape.rank) \(shape)")
            }
            for (k, d) in shape.dims.enumerated() where k > 0 {
                if let v = d.value, v != t.shape[k] {
                    throw ModelError("graph input '\(info.name)' has shape \(t.shape), expected \(shape)")
                }
            }
        }
        switch type.elementType {
        case .int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64, .bool:
            if t.elementType == .int64 { return t }
            let out = try ctx.int64s(t.shape)
            for k in 0..<t.count { out.i[k] = floatToInt64(t.f[k]) }
            return out
        default:
            return try ctx.asFloat(t)
        }
    }
}

/// Seconds on a monotonic clock.
public func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
