import CBLAS
import Dispatch
import ModelIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a model's main graph on the CPU, one batch at a time.
///
/// Planning happens once in `init`: every node is resolved to a kernel for the model's opset,
/// its attributes are parsed, and nodes whose inputs are all constant are evaluated. `run`
/// then executes the remaining steps, handing each intermediate buffer back to the arena after
/// its last consumer. An interpreter is not safe to run from several threads at once.
public final class Interpreter {
    struct Step {
        let node: Node
        let opset: Int
        let run: OperatorFunction
        let inputs: [Int?]
        let outputs: [Int?]
        /// Slots whose last reader is this step (or that nobody reads), released after it.
        var release: [Int] = []
        /// How the step takes channel-blocked inputs.
        var blockedUse = BlockedUse.none
        /// Every reader of the step's output takes it blocked: a Conv may write it so.
        var blockedOutput = false
    }

    /// How a step takes channel-blocked inputs (`BlockedLayout`); any other blocked input is
    /// converted to plain NCHW before the step runs.
    enum BlockedUse {
        case none
        /// Input 0 as it is: the operator reads either layout (Conv, pooling).
        case operatorInput
        /// An element-wise function of input 0: it runs on the blocked storage as it is, and its
        /// output is blocked too.
        case elementwise
        /// Element-wise over inputs of one shape: blocked when all of them are.
        case sameShape
        /// Concat along channels: the operator joins blocked inputs when all of them are.
        case channelConcat

        /// The use a node's operator makes of the blocked layout.
        init(_ node: Node) {
            self = .none
            guard let kind = node.kind else { return }
            switch kind {
            case .conv, .globalAveragePool, .globalMaxPool:
                self = .operatorInput
            case .maxPool, .averagePool:
                // Not with MaxPool's indices, which count positions in the plain layout.
                if node.outputs.count == 1 || node.outputs[1].isEmpty { self = .operatorInput }
            case .concat:
                let axis = node.intValue("axis", default: 1)
                if axis == 1 || axis == -3 { self = .channelConcat }
            case _ where kind.isElementwiseUnary:
                if node.outputs.count == 1 { self = .elementwise }
            case _ where kind.channelFlow == .tiedAcrossInputs:
                self = .sameShape
            default:
                // The kernels of every other operator read plain NCHW.
                break
            }
        }
    }

    /// A chain of steps that can run as one (see `Fusion`): `step` replaces them when no
    /// observer wants the outputs in between.
    struct FusedChain {
        let members: [Int]
        let step: Step
    }

    /// How the observer wants one output.
    enum Observation {
        case none
        /// The whole tensor, `observe(node:output:tensor:)`.
        case tensor
        /// Statistics counted per plane by the kernel, `observe(node:output:tensor:planes:)`.
        case planeStatistics
    }

    public let graph: Graph
    /// Opset version per domain ("" is the default ONNX set).
    public let opsets: [String: Int]
    /// Threads for the runtime's parallel loops and its BLAS calls.
    public var threads: Int
    /// The pool that output buffers come from.
    public let arena = Arena()
    /// Whether chains of convolutions keep the channel-blocked layout between them (see
    /// `BlockedLayout`). Off, every tensor stays plain NCHW, as the older kernels compute it.
    public var blockedLayout = true

    private var slotOf: [String: Int] = [:]
    private var constants: [(slot: Int, tensor: RuntimeTensor)] = []
    private var steps: [Step] = []
    /// Fusable chains by the index of their first step.
    private var chains: [Int: FusedChain] = [:]
    private var inputSlots: [(info: ValueInfo, slot: Int)] = []
    private var outputSlots: [(name: String, slot: Int)] = []
    /// The previous run's outputs: their buffers return to the arena once the caller drops them.
    private var lastOutputs: [RuntimeTensor] = []
    /// Where kernels count the planes of an output the observer wants statistics of.
    private let planeStatistics = PlaneStatisticsTable()

    /// When on, `run` adds up the wall time of every step; `profile` reports it. Turning it on
    /// or off clears the totals.
    public var profiling = false { didSet { stepSeconds = [:] } }
    /// Seconds per step index (a fused chain under its first step), over the profiled runs.
    private var stepSeconds: [Int: Double] = [:]

    /// Time spent in one step over the profiled runs.
    public struct StepTime: Encodable, Sendable {
        /// The node's name (for a fused chain, the name of its first node, the Conv).
        public let node: String
        /// Its operator, or the chain's operators joined by "+" (e.g. "Conv+BatchNormalization+Relu").
        public let op: String
        public let seconds: Double
    }

    /// The profiled steps, slowest first.
    public var profile: [StepTime] {
        stepSeconds.map { k, seconds in
            // A chain that ran fused has time under its first step only.
            let fused = chains[k].map { $0.members.dropFirst().allSatisfy { stepSeconds[$0] == nil } } ?? false
            let members = fused ? chains[k]!.members.map { steps[$0].node } : [steps[k].node]
            return StepTime(node: steps[k].node.displayName, op: members.map(\.opType).joined(separator: "+"), seconds: seconds)
        }.sorted { $0.seconds > $1.seconds }
    }

    /// Plans `model`'s main graph with the model's operator set versions.
    public convenience init(model: Model, threads: Int? = nil) throws {
        try self.init(graph: model.graph, opsets: model.opsetVersions, threads: threads)
    }

    /// Plans `graph` for the default-domain `opset`.
    public convenience init(graph: Graph, opset: Int, threads: Int? = nil) throws {
        try self.init(graph: graph, opsets: ["": opset], threads: threads)
    }

    /// Plans `graph` with the given opset per domain. Throws one error listing every node the
    /// runtime cannot execute.
    public init(graph: Graph, opsets: [String: Int], threads: Int? = nil) throws {
        self.graph = graph
        self.opsets = opsets
        self.threads = max(1, threads ?? Interpreter.defaultThreads)
        Interpreter.singleThreadedBLAS
        try plan()
    }

    /// Number of nodes executed on every run (the rest were folded into constants at plan time).
    public var plannedNodeCount: Int { steps.count }

    /// The nodes of each chain that runs as one step when no observer wants its inner outputs.
    var fusionChains: [[Node]] {
        chains.keys.sorted().map { chains[$0]!.members.map { steps[$0].node } }
    }

    /// OpenBLAS limited to the calling thread, once per process: the runtime splits GEMMs over
    /// its own threads (see `sgemm`). OpenBLAS starts a pool of helper threads when it loads, and
    /// they spin for about 0.1 s before sleeping, taking a core from the runtime's threads, so
    /// the pool is shut down too (OpenBLAS restarts it if anything asks for threads again).
    static let singleThreadedBLAS: Void = {
        openblas_set_num_threads(1)
        #if canImport(Glibc)
        // RTLD_DEFAULT is the null handle on glibc.
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_") {
            typealias Shutdown = @convention(c) () -> Int32
            _ = unsafeBitCast(symbol, to: Shutdown.self)()
        }
        #endif
    }()

    /// The number of processors, the default thread count.
    public static var defaultThreads: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Nodes of `model`'s main graph that no kernel executes at the model's opset.
    public static func unsupportedNodes(in model: Model) -> [Node] {
        unsupportedNodes(in: model.graph, opsets: model.opsetVersions)
    }

    static func unsupportedNodes(in graph: Graph, opsets: [String: Int]) -> [Node] {
        graph.nodes.filter { KernelRegistry.entry(for: $0, opsets: opsets) == nil }
    }

    private func slot(_ name: String) -> Int {
        if let s = slotOf[name] { return s }
        let s = slotOf.count
        slotOf[name] = s
        return s
    }

    private func plan() throws {
        let unsupported = Interpreter.unsupportedNodes(in: graph, opsets: opsets)
        if !unsupported.isEmpty {
            let list = unsupported.map { n -> String in
                let domain = n.normalizedDomain
                let version = opsets[domain].map { "opset \($0)" } ?? "domain '\(domain)' not imported"
                return "\(n.displayName) (\(domain.isEmpty ? "" : domain + ".")\(n.opType), \(version))"
            }
            throw ModelError("\(unsupported.count) node(s) use operators the runtime does not support: "
                + list.joined(separator: ", "))
        }
        var constantValue: [Int: RuntimeTensor] = [:]
        for t in graph.initializers {
            do { constantValue[slot(t.name)] = try RuntimeTensor(t) } catch let e as ModelError {
                throw e.at("initializer '\(t.name)'")
            }
        }
        let initializerNames = Set(graph.initializers.map(\.name))
        inputSlots = graph.inputs.filter { !initializerNames.contains($0.name) }.map { ($0, slot($0.name)) }

        let folding = ExecContext(arena: Arena(), threads: threads)
        for node in graph.nodes {
            let entry = KernelRegistry.entry(for: node, opsets: opsets)!
            let opset = opsets[OperatorSetDomain.onnx]!
            let place = "node '\(node.displayName)' (\(node.opType))"
            let run: OperatorFunction
            do { run = try entry.make(node, opset) } catch let e as ModelError { throw e.at(place) }
            let ins = node.inputs.map { $0.isEmpty ? nil : slot($0) }
            let outs = node.outputs.map { $0.isEmpty ? nil : slot($0) }
            if ins.allSatisfy({ $0 == nil || constantValue[$0!] != nil }) {
                // Every input is known: evaluate now, once, instead of on every batch.
                let results: [RuntimeTensor]
                do { results = try run(ins.map { $0.flatMap { constantValue[$0] } }, folding) } catch let e as ModelError {
                    throw e.at(place)
                }
                for (k, o) in outs.enumerated() { if let o, k < results.count { constantValue[o] = results[k] } }
                continue
            }
            steps.append(Step(node: node, opset: opset, run: run, inputs: ins, outputs: outs))
        }
        constants = constantValue.map { ($0.key, $0.value) }
        outputSlots = graph.outputs.map { ($0.name, slot($0.name)) }
        for (name, s) in outputSlots where constantValue[s] == nil && !inputSlots.contains(where: { $0.slot == s })
            && !steps.contains(where: { $0.outputs.contains(s) }) {
            throw ModelError("graph output '\(name)' is not produced by any node, input or initializer")
        }

        // Release each intermediate after its last reader; never constants or graph outputs.
        let keep = Set(outputSlots.map(\.slot)).union(constantValue.keys)
        var lastUse: [Int: Int] = [:]
        for (k, step) in steps.enumerated() {
            for case let s? in step.inputs { lastUse[s] = k }
            for case let s? in step.outputs where lastUse[s] == nil { lastUse[s] = k }
        }
        for (s, k) in lastUse where !keep.contains(s) { steps[k].release.append(s) }

        var readers: [Int: Int] = [:]
        for step in steps { for s in Set(step.inputs.compactMap { $0 }) { readers[s, default: 0] += 1 } }
        let infos = steps.map { Fusion.StepInfo(node: $0.node, opset: $0.opset, inputs: $0.inputs, outputs: $0.outputs) }
        for chain in Fusion.chains(infos, readers: readers, keep: keep, constant: { constantValue[$0] }) {
            let first = steps[chain.steps[0]], last = steps[chain.steps.last!]
            // Releases stay with the member steps, which are still visited (and skipped) in order.
            chains[chain.steps[0]] = FusedChain(
                members: chain.steps,
                step: Step(node: last.node, opset: last.opset, run: chain.run, inputs: first.inputs, outputs: last.outputs))
        }
        planBlockedLayout(keep: keep, constant: { constantValue[$0] })
        splitsBatches = BatchIndependence.holds(for: graph, steps: steps.map(\.node),
                                                constant: { name in self.slotOf[name].flatMap { constantValue[$0] } })
    }

    /// Marks each step's use of the blocked layout, and which convolutions write their output
    /// blocked: those whose every reader keeps it blocked (not a graph output, not an operator
    /// that would convert it). Which tensors end up blocked follows from the convolutions (see
    /// `BlockedUse`), so the decision is repeated until no convolution changes its mind: a Concat
    /// keeps blocked inputs only when all of them are.
    private func planBlockedLayout(keep: Set<Int>, constant: (Int) -> RuntimeTensor?) {
        for k in steps.indices { steps[k].blockedUse = BlockedUse(steps[k].node) }
        // The steps as they run when chains run fused: (index, inputs, output).
        var order: [(k: Int, inputs: [Int?], output: Int?)] = []
        var k = 0
        while k < steps.count {
            let step = chains[k]?.step ?? steps[k]
            order.append((k, step.inputs, step.outputs.count == 1 ? step.outputs[0] : nil))
            k += chains[k]?.members.count ?? 1
        }
        var readers: [Int: [(k: Int, input: Int)]] = [:]
        for (k, inputs, _) in order { for (i, s) in inputs.enumerated() { if let s { readers[s, default: []].append((k, i)) } } }
        let inputsOf = Dictionary(uniqueKeysWithValues: order.map { ($0.k, $0.inputs) })
        /// A Conv's W [M, C/group, kh, kw] when constant, and its group.
        func weights(_ k: Int) -> (shape: [Int], group: Int)? {
            let step = steps[k]
            guard step.node.kind == .conv, step.blockedUse == .operatorInput, step.inputs.count > 1,
                  let s = step.inputs[1], let w = constant(s), w.rank == 4 else { return nil }
            return (w.shape, step.node.intValue("group", default: 1))
        }
        func isDepthwise(_ w: (shape: [Int], group: Int)) -> Bool {
            w.group > 1 && w.shape[0] == w.group && w.shape[1] == 1 && w.group % BlockedLayout.lanes == 0
        }
        var writes: [Int: Bool] = [:]
        for (k, _, output) in order where output != nil {
            if let w = weights(k), w.shape[0] % BlockedLayout.lanes == 0, w.group == 1 || isDepthwise(w) { writes[k] = true }
        }
        while true {
            var blocked = Set<Int>()
            for (k, inputs, output) in order {
                guard let output else { continue }
                let present = inputs.compactMap { $0 }
                let input0 = inputs.first.flatMap { $0 }.map { blocked.contains($0) } ?? false
                let all = !present.isEmpty && present.allSatisfy { blocked.contains($0) }
                let node = steps[k].node
                switch steps[k].blockedUse {
                case .operatorInput where writes[k] == true:
                    // A depthwise convolution runs blocked only from a blocked input.
                    if let w = weights(k), !isDepthwise(w) || input0 { blocked.insert(output) }
                case .operatorInput where node.kind == .maxPool || node.kind == .averagePool:
                    if input0 { blocked.insert(output) }
                case .elementwise where input0:
                    blocked.insert(output)
                case .sameShape where all, .channelConcat where all:
                    blocked.insert(output)
                default:
                    break
                }
            }
            func keepsBlocked(_ r: (k: Int, input: Int)) -> Bool {
                switch steps[r.k].blockedUse {
                case .none: return false
                case .operatorInput:
                    guard r.input == 0 else { return false }
                    if steps[r.k].node.kind != .conv { return true }
                    guard let w = weights(r.k) else { return false }
                    return w.group == 1 || isDepthwise(w)
                case .elementwise: return r.input == 0
                case .sameShape, .channelConcat:
                    return inputsOf[r.k]!.allSatisfy { $0 == nil || blocked.contains($0!) }
                }
            }
            var changed = false
            for (k, _, output) in order where writes[k] == true {
                let kept = output.map { !keep.contains($0) && (readers[$0]?.allSatisfy(keepsBlocked) ?? false) } ?? false
                if !kept { (writes[k], changed) = (false, true) }
            }
            if !changed { break }
        }
        for (k, chain) in chains {
            var step = chain.step
            step.blockedUse = steps[k].blockedUse
            step.blockedOutput = writes[k] == true
            chains[k] = FusedChain(members: chain.members, step: step)
        }
        for (k, wants) in writes where wants && chains[k] == nil { steps[k].blockedOutput = true }
    }

    /// Whether each sample of a batch goes through the graph on its own (every operator works
    /// per sample, see `BatchIndependence`), so that slices of a batch can run separately.
    public private(set) var splitsBatches = false

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
        // The runtime splits work over `threads` itself, BLAS calls included (see `sgemm`).
        openblas_set_num_threads(1)
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

    /// What one pass over the steps works with: its own arena and statistics table, its
    /// threads, and for a slice of a batch, its turn in the observer calls.
    private struct Lane {
        let arena: Arena
        let table: PlaneStatisticsTable
        let threads: Int
        let order: (turns: ObserverTurns, slice: Int)?
    }

    /// The lanes of the slices `run` runs side by side.
    private var sliceLanes: [Lane] = []

    /// The batch size shared by every fed tensor (their first dimension), if they share one.
    private func commonBatch(_ inputs: [String: RuntimeTensor]) -> Int? {
        let sizes = Set(inputs.values.map { $0.rank > 0 ? $0.shape[0] : -1 })
        guard sizes.count == 1, let n = sizes.first, n > 0 else { return nil }
        return n
    }

    /// Samples a pass over the steps takes at a time when a batch is split: small enough that one
    /// layer's output for all of them stays in L2 for the next layer (a 32-channel 28×28 map is
    /// 100 KB per sample), large enough that the steps' fixed costs stay small. Measured on the
    /// Fixtures models at batch 64 (Tools/benchmark.py): 8 to 32 samples per pass ran 15–20 % faster
    /// than the whole batch.
    static let chunkSamples = 16

    /// Runs contiguous slices of the batch through the graph on `workers` threads, one
    /// single-threaded pass per slice, and joins their outputs along the first axis. The slices
    /// hold at most `chunkSamples` samples when the batch allows (more slices than workers):
    /// worker w takes slices w, w + workers, …, so that the workers stay level in batch order.
    private func runSlices(_ inputs: [String: RuntimeTensor], batch: Int, workers: Int,
                           _ observer: (any RuntimeObserver)?, _ wanted: [[Observation]]?) throws -> [String: RuntimeTensor] {
        let chunks = (batch + Self.chunkSamples - 1) / Self.chunkSamples
        let slices = min(batch, max(workers, (chunks + workers - 1) / workers * workers))
        let turns = ObserverTurns(slices: slices)
        while sliceLanes.count < workers { sliceLanes.append(Lane(arena: Arena(), table: PlaneStatisticsTable(), threads: 1, order: nil)) }
        let bounds = (0...slices).map { batch * $0 / slices }
        var results = [Result<[String: RuntimeTensor], Error>](repeating: .success([:]), count: slices)
        var times = [[Int: Double]](repeating: [:], count: workers)
        results.withUnsafeMutableBufferPointer { results in
        times.withUnsafeMutableBufferPointer { times in
            parallelWorkers(workers, workers: workers) { w, _ in
                for k in stride(from: w, to: slices, by: workers) {
                    // A failed slice must not leave the next one waiting for its turn.
                    defer { turns.finish(slice: k) }
                    let lane = Lane(arena: sliceLanes[w].arena, table: sliceLanes[w].table, threads: 1, order: (turns, k))
                    results[k] = Result {
                        let ctx = ExecContext(arena: lane.arena, threads: 1)
                        var slice: [String: RuntimeTensor] = [:]
                        for (name, t) in inputs { slice[name] = try t.rows(bounds[k]..<bounds[k + 1], ctx) }
                        return try runSteps(slice, lane, observer, wanted, times: &times[w])
                    }
                }
            }
        }
        }
        let parts = try results.map { try $0.get() }
        if profiling { for t in times { stepSeconds.merge(t, uniquingKeysWith: +) } }
        var out: [String: RuntimeTensor] = [:]
        let ctx = ExecContext(arena: arena, threads: threads)
        for name in parts[0].keys {
            let pieces = parts.map { $0[name]! }
            for (k, p) in pieces.enumerated() where p.rank == 0 || p.shape[0] != bounds[k + 1] - bounds[k] {
                throw ModelError("output '\(name)' of a slice of \(bounds[k + 1] - bounds[k]) samples has shape \(p.shape): the graph mixes samples, run it with --threads 1")
            }
            out[name] = try RuntimeTensor.joiningRows(pieces, ctx)
        }
        // The slices' outputs go back to their arenas for the next batch.
        for (k, var part) in parts.enumerated() {
            for name in Array(part.keys) {
                guard var t = part.removeValue(forKey: name) else { continue }
                if isKnownUniquelyReferenced(&t.buffer) { sliceLanes[k % workers].arena.give(t.buffer) }
            }
        }
        return out
    }

    /// One pass over the planned steps with `inputs`, adding each step's seconds to `times`
    /// when profiling.
    private func runSteps(_ inputs: [String: RuntimeTensor], _ lane: Lane, _ observer: (any RuntimeObserver)?,
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
    private func reclaimOutputs() {
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
    private func execute(_ step: Step, _ index: Int, _ values: inout [RuntimeTensor?], _ ctx: ExecContext, _ lane: Lane,
                         _ observer: (any RuntimeObserver)?, wanted: [Observation]?) throws {
        let place = "node '\(step.node.displayName)' (\(step.node.opType))"
        var args = step.inputs.map { $0.flatMap { values[$0] } }
        for (k, s) in step.inputs.enumerated() where s != nil && args[k] == nil {
            throw ModelError("\(place): input '\(step.node.inputs[k])' was not computed")
        }
        // Blocked inputs the step does not take as they are become plain copies, given back after it.
        var converted: [RuntimeTensor] = []
        let blocked = args.contains { $0?.blocked == true }
        var relabel = false
        if blocked {
            let present = args.compactMap { $0 }
            let allBlocked = present.allSatisfy { $0.blocked }
            switch step.blockedUse {
            case .elementwise: relabel = args[0]?.blocked == true
            case .sameShape: relabel = allBlocked && present.allSatisfy { $0.shape == present[0].shape }
            default: break
            }
            func keeps(_ k: Int) -> Bool {
                switch step.blockedUse {
                case .none: return false
                case .operatorInput, .elementwise: return k == 0
                case .sameShape: return relabel
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
        let table = lane.table
        if step.outputs.count == 1, wanted?[0] == .planeStatistics, !relabel {
            table.release()
            stepCtx.statistics = table
        }
        defer { table.release() }
        var results: [RuntimeTensor]
        do { results = try step.run(args, stepCtx) } catch let e as ModelError { throw e.at(place) }
        if relabel { results[0].blocked = true }
        args = []
        while let t = converted.popLast() { ctx.recycle(t) }
        for (k, o) in step.outputs.enumerated() {
            guard let o else { continue }
            guard k < results.count else { throw ModelError("\(place): output \(k) is not produced") }
            values[o] = results[k]
            guard let observer, let how = wanted?[k], how != .none else { continue }
            let name = step.node.outputs[k]
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
    private func observable(_ output: RuntimeTensor, _ how: Observation, _ observer: any RuntimeObserver, counted: Bool,
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
    private func checkedInput(_ t: RuntimeTensor, _ info: ValueInfo, _ ctx: ExecContext) throws -> RuntimeTensor {
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

/// The order in which slices of a batch, running side by side, call the observer: slice k
/// delivers the outputs of step s once slice k − 1 has delivered step s (or finished), and one
/// call runs at a time. Each output thus reaches the observer slice by slice in batch order,
/// whatever the threads' timing, and observers need no locks.
final class ObserverTurns: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    /// Per slice, the last step it delivered (Int.max once it finished).
    private var reached: [Int]

    init(slices: Int) {
        reached = [Int](repeating: -1, count: slices)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `deliver` for step `step` of slice `slice` in its turn.
    func take(slice: Int, step: Int, _ deliver: () throws -> Void) throws {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        // The slices run in step, so a wait is short: yielding beats sleeping on the condition,
        // whose wake-up (tens of µs per observed step) cost a tenth of a MobileNet-sized run.
        var spins = 0
        while slice > 0 && reached[slice - 1] < step {
            if spins < 10_000 {
                spins += 1
                pthread_mutex_unlock(&mutex)
                sched_yield()
                pthread_mutex_lock(&mutex)
            } else {
                pthread_cond_wait(&changed, &mutex)
            }
        }
        // Called with the lock held: one observer call at a time.
        try deliver()
        reached[slice] = step
        pthread_cond_broadcast(&changed)
    }

    /// Marks `slice` done (or failed): later slices stop waiting for it.
    func finish(slice: Int) {
        pthread_mutex_lock(&mutex)
        reached[slice] = Int.max
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }
}
