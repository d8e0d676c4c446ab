import ModelIR
import ModelRuntime

/// What a node's gradient reads: the forward pass's inputs and outputs, whatever its training
/// forward saved, and the loss's gradient with respect to each output.
struct GradientInputs {
    let node: Node
    let opset: Int
    /// Forward inputs (nil for omitted optional ones).
    let inputs: [RuntimeTensor?]
    /// Forward outputs.
    let outputs: [RuntimeTensor]
    /// State kept by the node's training forward (see `TrainingForward`), e.g. a dropout mask.
    let saved: AnyObject?
    /// dLoss/dOutput per output; nil where nothing downstream reaches the loss (a zero gradient).
    let outputGrads: [RuntimeTensor?]
    /// Which inputs want a gradient.
    let wanted: [Bool]
    let threads: Int
    /// The node's inference kernel (nil for nodes with a training forward of their own).
    let kernel: NodeKernel?
    /// What the node's gradient keeps from one step to the next.
    let cache: GradientCache
    /// Where gradient buffers come from: the trainer's arena, which gets them back once the
    /// gradient has been passed on, so that steps after the first allocate (and fault in) almost
    /// nothing. Only the calling thread may take from it.
    var arena: Arena? = nil

    /// A float32 tensor for a gradient, from the arena: zeros, or undefined contents when
    /// `zeroed` is false (the caller writes every element).
    func floats(_ shape: [Int], zeroed: Bool = true) throws -> RuntimeTensor {
        zeroed ? try RuntimeTensor.filled(shape, arena: arena) : try RuntimeTensor.uninitialized(shape, arena: arena)
    }

    /// The gradient of output `k`, or zeros of its shape when nothing reached it.
    func grad(_ k: Int = 0) throws -> RuntimeTensor {
        if let g = outputGrads[k] { return g }
        return try floats(outputs[k].shape)
    }

    /// Input `i`, which the operator requires.
    func input(_ i: Int) throws -> RuntimeTensor {
        guard i < inputs.count, let t = inputs[i] else { throw ModelError("required input \(i) is missing") }
        return t
    }

    /// Whether input `i` wants a gradient.
    func wants(_ i: Int) -> Bool { i < wanted.count && wanted[i] }
}

/// Per-node memory of the backward pass across steps, e.g. the element routes of a data-movement
/// operator, which depend only on the shapes.
final class GradientCache {
    var routes: [[[Int]]: [[Int]]] = [:]
    /// A Conv's dX as a convolution of dY (see `ConvolutionGradients.dataGradientByConvolution`),
    /// planned once per padding.
    var dataConvolutions: [[Int]: NodeKernel] = [:]
}

/// Computes dLoss/dInput for each input of a node (nil for inputs that want none).
typealias GradientFunction = (GradientInputs) throws -> [RuntimeTensor?]

/// How an operator behaves in the backward pass.
enum GradientRule {
    /// Its outputs depend differentiably on its float inputs.
    case differentiable(GradientFunction)
    /// Its outputs carry no gradient (shapes, comparisons, rounding): nothing flows back.
    case constant
    /// No gradient is implemented; training stops before it starts when such a node lies between
    /// a trained tensor and the loss.
    case unsupported
}

/// A node whose training forward differs from inference (batch statistics, dropout): it returns
/// the outputs and what its gradient needs.
typealias TrainingForward = (_ inputs: [RuntimeTensor?], _ state: inout TrainingState) throws
    -> (outputs: [RuntimeTensor], saved: AnyObject?)

/// Per-node state the training forward updates: BN running statistics and the dropout generator.
struct TrainingState {
    var random: SplitMix64
    let threads: Int
    /// New values of non-trained tensors (BN running mean and variance), by input index.
    var updatedInputs: [Int: RuntimeTensor] = [:]
    /// Where outputs come from (the trainer's arena, which gets them back after the step).
    var arena: Arena? = nil
}

/// A small seeded generator (SplitMix64): the same seed gives the same dropout masks and orders.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform float in [0, 1).
    public mutating func nextUnit() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }
}
