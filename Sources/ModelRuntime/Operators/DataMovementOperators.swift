import ModelIR

enum DataMovementOperators {
    static let entries: [KernelEntry] = []
}
