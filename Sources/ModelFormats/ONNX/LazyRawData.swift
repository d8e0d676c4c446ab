/// Keeps the weights of a mapped model file in the file: before protobuf-c decodes a model (and
/// copies every bytes field into the heap), the large raw_data payloads of the main graph's
/// initializers are cut out of a copy of the message and left where they are in the mapping. The
/// tensors then borrow their bytes from the mapped file, whose pages are read only when a kernel
/// or the writer touches them: `info` on a 553 MB model reads a few megabytes.
///
/// Only the common layout is handled (one graph field, each initializer with at most one
/// raw_data field); anything else, or a file with no payload worth cutting, decodes as before.
/// Runs after `WireScan.check`, so the wire format is known to be well formed.
struct LazyRawData {
    /// The model message with the cut payloads emptied (the raw_data fields stay, with length 0,
    /// so the tensors still say their data was raw).
    var message: [UInt8]
    /// Byte range in the file of each cut payload, by index of the initializer in the main graph.
    var payloads: [Int: Range<Int>]

    /// Payloads smaller than this are left in the message: copying them costs little.
    static let minimumPayload = 4096

    private static let graphField: UInt64 = 7, initializerField: UInt64 = 5, rawDataField: UInt64 = 9

    /// The split of the ModelProto at `data`, or nil when nothing is cut or the layout is unusual.
    static func split(_ data: UnsafePointer<UInt8>, count: Int) -> LazyRawData? {
        var payloads: [Int: Range<Int>] = [:]
        var sawGraph = false
        var out: [UInt8] = []
        let ok = fields(data, 0..<count) { number, wire, whole, payload in
            guard number == graphField, wire == 2 else { return append(data, whole, to: &out) }
            guard !sawGraph else { return false }  // protobuf would merge several graphs
            sawGraph = true
            guard let graph = rewriteGraph(data, payload, payloads: &payloads) else { return false }
            appendField(number, graph, to: &out)
            return true
        }
        guard ok, !payloads.isEmpty else { return nil }
        return LazyRawData(message: out, payloads: payloads)
    }

    private static func rewriteGraph(_ data: UnsafePointer<UInt8>, _ range: Range<Int>,
                                     payloads: inout [Int: Range<Int>]) -> [UInt8]? {
        var out: [UInt8] = []
        var index = 0
        let ok = fields(data, range) { number, wire, whole, payload in
            guard number == initializerField, wire == 2 else { return append(data, whole, to: &out) }
            defer { index += 1 }
            var tensor: [UInt8] = []
            var rawFields = 0
            var cut: Range<Int>?
            let fine = fields(data, payload) { n, w, wholeField, bytes in
                guard n == rawDataField, w == 2 else { return append(data, wholeField, to: &tensor) }
                rawFields += 1
                guard bytes.count >= minimumPayload else { return append(data, wholeField, to: &tensor) }
                cut = bytes
                appendField(n, [], to: &tensor)
                return true
            }
            // A second raw_data field would replace the first when decoded: leave such files alone.
            guard fine, rawFields <= 1 else { return false }
            if let cut { payloads[index] = cut }
            appendField(number, tensor, to: &out)
            return true
        }
        return ok ? out : nil
    }

    /// Walks the fields in `range`: (field number, wire type, the whole field, its payload for
    /// length-delimited fields). `body` returns false to stop; the result is false when stopped or
    /// the bytes are not well formed.
    private static func fields(_ p: UnsafePointer<UInt8>, _ range: Range<Int>,
                               _ body: (UInt64, UInt64, Range<Int>, Range<Int>) -> Bool) -> Bool {
        var i = range.lowerBound
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while i < range.upperBound, shift < 64 {
                let b = p[i]
                i += 1
                value |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return value }
                shift += 7
            }
            return nil
        }
        while i < range.upperBound {
            let start = i
            guard let tag = varint() else { return false }
            var payload = i..<i
            switch tag & 7 {
            case 0: guard varint() != nil else { return false }
            case 1: i += 8
            case 5: i += 4
            case 2:
                guard let length = varint(), length <= UInt64(range.upperBound - i) else { return false }
                payload = i..<(i + Int(length))
                i += Int(length)
            default: return false
            }
            guard i <= range.upperBound, body(tag >> 3, tag & 7, start..<i, payload) else { return false }
        }
        return true
    }

    private static func append(_ p: UnsafePointer<UInt8>, _ range: Range<Int>, to out: inout [UInt8]) -> Bool {
        out.append(contentsOf: UnsafeBufferPointer(start: p + range.lowerBound, count: range.count))
        return true
    }

    /// A length-delimited field: tag, length, payload.
    private static func appendField(_ number: UInt64, _ payload: [UInt8], to out: inout [UInt8]) {
        appendVarint(number << 3 | 2, to: &out)
        appendVarint(UInt64(payload.count), to: &out)
        out.append(contentsOf: payload)
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
