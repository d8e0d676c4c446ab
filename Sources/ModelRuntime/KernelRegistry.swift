import ModelIR

/// One row of the kernel table: an operator of a domain over a range of opset versions.
public struct KernelEntry: Sendable {
    /// Operator set domain; "" is the default ONNX set (files may also write "ai.onnx").
    public let domain: String
    public let opType: String
    /// Opset versions of `domain` this entry executes.
    public let versions: ClosedRange<Int>
    let make: OperatorFactory

    init(_ opType: String, _ versions: ClosedRange<Int>, domain: String = "", _ make: @escaping OperatorFactory) {
        self.domain = domain
        self.opType = opType
        self.versions = versions
        self.make = make
    }

    /// Every opset from `first` on.
    init(_ opType: String, since first: Int, domain: String = "", _ make: @escaping OperatorFactory) {
        self.init(opType, first...Int.max, domain: domain, make)
    }
}

/// The explicit table of every operator the runtime executes, by op family.
public enum KernelRegistry {
    /// All entries, family by family.
    public static let entries: [KernelEntry] =
        ConvolutionOperators.entries + PoolingOperators.entries + GemmOperators.entries
        + NormalizationOperators.entries + ActivationOperators.entries + ElementwiseOperators.entries
        + ShapeOperators.entries + DataMovementOperators.entries + ReductionOperators.entries
        + ResizeOperators.entries

    private static let index: [String: [KernelEntry]] = Dictionary(grouping: entries) { "\($0.domain)|\($0.opType)" }

    /// The entry executing `opType` of `domain` at `opset`, if any.
    public static func entry(domain: String, opType: String, opset: Int) -> KernelEntry? {
        let d = domain == "ai.onnx" ? "" : domain
        return index["\(d)|\(opType)"]?.first { $0.versions.contains(opset) }
    }

    /// Supported operators with their opset ranges, sorted by op type, for listings.
    public static var supportedOps: [(domain: String, opType: String, versions: ClosedRange<Int>)] {
        entries.map { ($0.domain, $0.opType, $0.versions) }
            .sorted { ($0.opType, $0.versions.lowerBound) < ($1.opType, $1.versions.lowerBound) }
    }

    /// Pairs of entries whose keys overlap (same domain and op type, intersecting opset ranges).
    public static var overlappingEntries: [(KernelEntry, KernelEntry)] {
        var out: [(KernelEntry, KernelEntry)] = []
        for list in index.values {
            for a in 0..<list.count {
                for b in (a + 1)..<list.count where list[a].versions.overlaps(list[b].versions) {
                    out.append((list[a], list[b]))
                }
            }
        }
        return out
    }
}
