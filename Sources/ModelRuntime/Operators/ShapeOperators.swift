import ModelIR

enum ShapeOperators {
    static let entries: [KernelEntry] = []
}
