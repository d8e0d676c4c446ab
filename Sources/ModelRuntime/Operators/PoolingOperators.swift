import ModelIR

enum PoolingOperators {
    static let entries: [KernelEntry] = []
}
