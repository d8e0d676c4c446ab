/// A dataset failure as one line that names the file and the problem,
/// e.g. `val.npy: header claims shape [100000,3,32,32] float32 (...) but the file holds only 96 bytes`.
public struct DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The full one-line message, starting with the file (or source) name.
    public let message: String

    /// Creates an error whose message is `"<source>: <problem>"`.
    public init(_ source: String, _ problem: String) {
        message = "\(source): \(problem)"
    }

    public var description: String { message }
}

/// Formats a shape the way every message in this module prints it: `[3,32,32]`.
func formatShape(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ",") + "]"
}

/// Formats a shape whose symbolic dimensions are `nil`, printed as `?`.
func formatShape(_ shape: [Int?]) -> String {
    "[" + shape.map { $0.map(String.init) ?? "?" }.joined(separator: ",") + "]"
}

/// The product of `dims`, or nil when it overflows `Int` or a dimension is negative. With a zero
/// dimension the others must still multiply to at most 2^48: an empty first axis must not hide a
/// sample shape whose element count overflows later (a libFuzzer idx finding).
func checkedProduct(_ dims: [Int]) -> Int? {
    var nonZero = 1
    for dim in dims {
        guard dim >= 0 else { return nil }
        let (value, overflow) = nonZero.multipliedReportingOverflow(by: max(dim, 1))
        if overflow { return nil }
        nonZero = value
    }
    guard dims.contains(0) else { return nonZero }
    return nonZero <= 1 << 48 ? 0 : nil
}
