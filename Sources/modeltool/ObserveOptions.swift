import ArgumentParser
import Foundation
import ModelRuntime

/// Which tensors to observe: shared by `apoz` and `info --data`.
struct ObserveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Observe exactly these tensors instead of the default points (repeatable or comma-separated).", valueName: "tensor"))
    var observe: [String] = []
    @Option(help: ArgumentHelp("Observe these tensors in addition to the default points.", valueName: "tensor"))
    var observeAlso: [String] = []

    func validate() throws {
        if !observe.isEmpty && !observeAlso.isEmpty {
            throw ValidationError("--observe (exactly these) and --observe-also (defaults plus these) exclude each other")
        }
    }

    var selection: ObservationPoints.Selection {
        func split(_ list: [String]) -> [String] {
            list.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        }
        if !observe.isEmpty { return .only(split(observe)) }
        if !observeAlso.isEmpty { return .adding(split(observeAlso)) }
        return .defaults
    }
}

/// The help text that explains where APoZ is observed; shared by `apoz` and `info`.
let observationHelp = """
    APoZ (Average Percentage of Zeros) of channel c = exact zeros in channel c (axis 1) over all samples and positions / (samples x positions). It is observed on every Relu output and every Clip whose min is 0 (ReLU6); Keras layers with a fused relu are imported as a Relu node and are observed there too. A Relu after BatchNormalization is observed after the normalisation (at the Relu's output), which is where the zeros are.

    Activations that are never exactly zero are observed by their off region: APoZ = the share of positions where the activation's input is <= 0 (the statistics file says "region": "nonPositive" and names the "input"; info --apoz shows "input <= 0"). These are HardSwish, Gelu, Elu, LeakyRelu, PRelu and Softplus nodes and the decomposed forms x*Sigmoid(x) (SiLU/Swish), x*HardSigmoid(x), x*Tanh(Softplus(x)) (Mish), 0.5*x*(1+Erf(x/sqrt(2))) (GELU) and x*Clip(x+3,0,6)/6 (hardswish). The sums, and so the means trimming folds into biases, are the activation's output's. For ReLU the off region is exactly the zeros, which it keeps counting.

    Each point is reported with the layer whose channels it holds (the Conv/Gemm reached back through BatchNormalization, pooling and other channel-preserving layers; several for a residual Add), since that is what trimming removes. --observe NAME observes only the named tensors; --observe-also NAME adds tensors to the defaults. NaN and infinite activations are counted apart (nonFinite), never as zeros.
    """
