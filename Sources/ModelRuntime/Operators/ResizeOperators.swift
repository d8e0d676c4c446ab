import ModelIR

enum ResizeOperators {
    static let entries: [KernelEntry] = []
}
