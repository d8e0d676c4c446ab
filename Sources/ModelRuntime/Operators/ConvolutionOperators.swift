import ModelIR

enum ConvolutionOperators {
    static let entries: [KernelEntry] = []
}
