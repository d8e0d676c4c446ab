import ModelIR

/// One row of the kernel table: an operator of the default ONNX set over a range of opset
/// versions. Operators of other domains have no kernel.
public struct KernelEntry: Sendable {
    public let kind: OpKind
    /// Opset versions of the default domain this entry executes.
    public let versions: ClosedRange<Int>
    let make: OperatorFactory

    /// The ONNX op type.
    public var opType: String { kind.opType }

    init(_ kind: OpKind, _ versions: ClosedRange<Int>, _ make: @escaping OperatorFactory) {
        self.kind = kind
        self.versions = versions
        self.make = make
    }

    /// Every opset from `first` on.
    init(_ kind: OpKind, since first: Int, _ make: @escaping OperatorFactory) {
        self.init(kind, first...Int.max, make)
    }
}

/// The explicit table of every operator the runtime executes, by op family, keyed by
/// (`OpKind`, opset range).
public enum KernelRegistry {
    /// All entries, family by family.
    public static let entries: [KernelEntry] =
        ConvolutionOperators.entries + PoolingOperators.entries + GemmOperators.entries
        + NormalizationOperators.entries + ActivationOperators.entries + ElementwiseOperators.entries
        + ShapeOperators.entries + DataMovementOperators.entries + ReductionOperators.entries
        + ResizeOperators.entries + LogicOperators.entries + SelectionOperators.entries

    private static let index: [OpKind: [KernelEntry]] = Dictionary(grouping: entries) { $0.kind }

    /// The entry executing `kind` at default-domain `opset`, if any.
    public static func entry(_ kind: OpKind, opset: Int) -> KernelEntry? {
        index[kind]?.first { $0.versions.contains(opset) }
    }

    /// The entry executing `node` under the opset versions `opsets` (by normalised domain), if any.
    public static func entry(for node: Node, opsets: [String: Int]) -> KernelEntry? {
        guard let kind = node.kind, let opset = opsets[OperatorSetDomain.onnx] else { return nil }
        return entry(kind, opset: opset)
    }

    /// The entry executing `opType` of `domain` at `opset`, if any.
    public static func entry(domain: String, opType: String, opset: Int) -> KernelEntry? {
        OpKind(opType: opType, domain: domain).flatMap { entry($0, opset: opset) }
    }

    /// The operators with at least one entry.
    public static var executedKinds: Set<OpKind> { Set(index.keys) }

    /// Supported operators with their opset ranges, sorted by op type, for listings.
    public static var supportedOps: [(domain: String, opType: String, versions: ClosedRange<Int>)] {
        entries.map { (OperatorSetDomain.onnx, $0.opType, $0.versions) }
            .sorted { ($0.opType, $0.versions.lowerBound) < ($1.opType, $1.versions.lowerBound) }
    }

    /// Pairs of entries whose keys overlap (same operator, intersecting opset ranges).
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
