import ModelIR

/// A SHA-256 over what makes a model compute what it computes: operator sets, the main graph's
/// nodes (names, ops, wiring, attributes), its interface, and every initializer's name, type,
/// shape and bytes. Metadata, doc strings and the storage form (inline or external data) are left
/// out, so a lossless `convert` keeps the fingerprint while any change of a weight changes it.
public enum ModelFingerprint {
    /// "sha256:" followed by 64 hex digits.
    public static func of(_ model: Model) -> String {
        var h = Hasher256()
        for o in model.opsetImports.sorted(by: { ($0.domain, $0.version) < ($1.domain, $1.version) }) {
            h.string(o.normalizedDomain)
            h.int(Int(o.version))
        }
        h.graph(model.graph)
        return "sha256:" + h.sha.finalize()
    }
}

/// Feeds IR values to SHA-256 in an unambiguous, length-prefixed encoding.
private struct Hasher256 {
    var sha = SHA256()

    mutating func int(_ v: Int) {
        withUnsafeBytes(of: Int64(v).littleEndian) { sha.update($0) }
    }

    mutating func tag(_ t: UInt8) { sha.update([t]) }

    mutating func bytes(_ b: [UInt8]) {
        int(b.count)
        sha.update(b)
    }

    mutating func string(_ s: String) { bytes(Array(s.utf8)) }

    mutating func strings(_ s: [String]) {
        int(s.count)
        for x in s { string(x) }
    }

    mutating func graph(_ g: Graph) {
        tag(0x47)
        int(g.nodes.count)
        for n in g.nodes {
            string(n.name)
            string(n.opType)
            string(n.normalizedDomain)
            strings(n.inputs)
            strings(n.outputs)
            int(n.attributes.count)
            for a in n.attributes.sorted(by: { $0.name < $1.name }) {
                string(a.name)
                attribute(a.value)
            }
        }
        for list in [g.inputs, g.outputs] {
            int(list.count)
            for v in list {
                string(v.name)
                string(v.tensorType.map { "\($0)" } ?? "")
            }
        }
        int(g.initializers.count)
        for t in g.initializers.sorted(by: { $0.name < $1.name }) { tensor(t) }
        int(g.sparseInitializers.count)
        for s in g.sparseInitializers.sorted(by: { $0.name < $1.name }) {
            tensor(s.values)
            tensor(s.indices)
            int(s.dims.count)
            for d in s.dims { int(d) }
        }
    }

    mutating func tensor(_ t: Tensor) {
        tag(0x54)
        string(t.name)
        string("\(t.dataType)")
        int(t.dims.count)
        for d in t.dims { int(d) }
        switch t.storage {
        case .bytes(let b):
            int(b.count)
            // Hashing reads every weight; a mapped file's pages need not stay resident after it
            // (apoz and trim fingerprint while an interpreter holds its own copy of the weights).
            b.readOnce { _, piece in sha.update(piece) }
        case .strings(let s):
            int(s.count)
            for x in s { bytes(x) }
        }
    }

    mutating func attribute(_ value: AttributeValue) {
        switch value {
        case .float(let f): tag(1); int(Int(f.bitPattern))
        case .int(let i): tag(2); int(Int(i))
        case .string(let s): tag(3); bytes(s)
        case .tensor(let t): tag(4); tensor(t)
        case .graph(let g): tag(5); graph(g)
        case .sparseTensor(let s): tag(6); tensor(s.values); tensor(s.indices)
        case .typeProto(let p): tag(7); bytes(p.bytes)
        case .floats(let fs): tag(8); int(fs.count); for f in fs { int(Int(f.bitPattern)) }
        case .ints(let xs): tag(9); int(xs.count); for x in xs { int(Int(x)) }
        case .strings(let ss): tag(10); int(ss.count); for s in ss { bytes(s) }
        case .tensors(let ts): tag(11); int(ts.count); for t in ts { tensor(t) }
        case .graphs(let gs): tag(12); int(gs.count); for g in gs { graph(g) }
        case .sparseTensors(let ss): tag(13); int(ss.count); for s in ss { tensor(s.values); tensor(s.indices) }
        case .typeProtos(let ps): tag(14); int(ps.count); for p in ps { bytes(p.bytes) }
        case .reference(let r): tag(15); string(r)
        }
    }
}
