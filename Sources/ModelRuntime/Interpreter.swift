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
    /// A class: the batch loop hands each step on for every batch, and as a struct each copy
    /// retained every field (the node's strings and lists). With the convolution plans also
    /// classes, LeNet at batch 1 went from 8.8K to 9.5K images/s. Planning sets the `var`s on the
    /// one instance.
    final class Step {
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
        /// A convolution (alone or first in a fused chain): it takes an X whose last channel block
        /// is padded (`BlockedLayout.paddedChannels`) as it is.
        var readsPaddedBlocks = false

        init(node: Node, opset: Int, run: @escaping OperatorFunction, inputs: [Int?], outputs: [Int?]) {
            (self.node, self.opset, self.run, self.inputs, self.outputs) = (node, opset, run, inputs, outputs)
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
    public let arena = Arena(populated: true)
    /// Whether chains of convolutions keep the channel-blocked layout between them (see
    /// `BlockedLayout`). Off, every tensor stays plain NCHW, as the older kernels compute it.
    public var blockedLayout = true

    var slotOf: [String: Int] = [:]
    var constants: [(slot: Int, tensor: RuntimeTensor)] = []
    var steps: [Step] = []
    /// Fusable chains by the index of their first step.
    var chains: [Int: FusedChain] = [:]
    var inputSlots: [(info: ValueInfo, slot: Int)] = []
    var outputSlots: [(name: String, slot: Int)] = []
    /// The previous run's outputs: their buffers return to the arena once the caller drops them.
    var lastOutputs: [RuntimeTensor] = []
    /// Where kernels count the planes of an output the observer wants statistics of.
    let planeStatistics = PlaneStatisticsTable()

    /// When on, `run` adds up the wall time of every step; `profile` reports it. Turning it on
    /// or off clears the totals.
    public var profiling = false { didSet { stepSeconds = [:] } }
    /// Seconds per step index (a fused chain under its first step), over the profiled runs.
    var stepSeconds: [Int: Double] = [:]

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
    /// Call it once only: openblas_set_num_threads restarts the pool when it is down (OpenBLAS
    /// 0.3.21), which is why `run` does not call it again. OpenBLAS's kernels are chosen first
    /// (`BLASKernels`), since choosing them re-initialises its tables.
    static let singleThreadedBLAS: Void = {
        BLASKernels.select()
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

    /// Whether each sample of a batch goes through the graph on its own (every operator works
    /// per sample, see `BatchIndependence`), so that slices of a batch can run separately.
    public internal(set) var splitsBatches = false

    /// The lanes of the slices `run` runs side by side.
    var sliceLanes: [Lane] = []
}
