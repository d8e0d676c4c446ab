/// Operator set domains as lookups spell them. Files name the default ONNX operator set either
/// "" or "ai.onnx"; everything that keys by domain goes through `normalized` so that the two
/// spellings never need handling anywhere else.
public enum OperatorSetDomain {
    /// The default ONNX operator set.
    public static let onnx = ""
    /// The default set's other spelling, which reports show because "" reads as nothing.
    public static let onnxName = "ai.onnx"

    /// `domain` with the default set's alternative spelling "ai.onnx" written "".
    public static func normalized(_ domain: String) -> String { domain == onnxName ? onnx : domain }

    /// A normalised `domain` as reports show it: the default set as "ai.onnx".
    public static func displayName(_ domain: String) -> String { domain == onnx ? onnxName : domain }
}

extension OpsetImport {
    /// The imported domain, normalised (see `OperatorSetDomain`).
    public var normalizedDomain: String { OperatorSetDomain.normalized(domain) }
}

extension Node {
    /// The node's domain, normalised (see `OperatorSetDomain`).
    public var normalizedDomain: String { OperatorSetDomain.normalized(domain) }

    /// True for operators of the default ONNX operator set.
    public var isDefaultDomain: Bool { normalizedDomain == OperatorSetDomain.onnx }
}

extension Model {
    /// The imported version of each operator set, by normalised domain.
    public var opsetVersions: [String: Int] {
        var versions: [String: Int] = [:]
        for o in opsetImports { versions[o.normalizedDomain] = Int(clamping: o.version) }
        return versions
    }

    /// The version of the default ONNX operator set (1 when the model imports none).
    public var defaultOpset: Int64 {
        opsetImports.first { $0.normalizedDomain == OperatorSetDomain.onnx }?.version ?? 1
    }
}
