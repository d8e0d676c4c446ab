/// The parsed header of a `.npy` array (format versions 1.0, 2.0 and 3.0).
struct NpyHeader {
    var type: ElementType
    var swapped: Bool
    var fortranOrder: Bool
    var shape: [Int]
    var descr: String
    /// Bytes from the start of the .npy data to the first array byte.
    var dataOffset: Int

    /// Bytes the array's data occupies, or nil on overflow.
    var dataByteCount: Int? {
        checkedProduct(shape).flatMap { n in
            let (bytes, overflow) = n.multipliedReportingOverflow(by: type.byteSize)
            return overflow ? nil : bytes
        }
    }

    /// Parses the header of a .npy of `available` bytes; `read(offset, count)` fetches bytes.
    /// Sizes are checked against `available` before anything is allocated or trusted.
    static func parse(name: String, available: Int, read: (Int, Int) throws -> [UInt8]) throws -> NpyHeader {
        guard available >= 10 else { throw DatasetError(name, "is too short to be a .npy file (\(available) bytes)") }
        let prefix = try read(0, min(12, available))
        guard prefix.starts(with: [0x93] + Array("NUMPY".utf8)) else { throw DatasetError(name, "is not a .npy file (bad magic)") }
        let major = prefix[6]
        let lengthStart: Int, headerLength: Int
        switch major {
        case 1:
            lengthStart = 10
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8
        case 2, 3:
            guard prefix.count >= 12 else { throw DatasetError(name, "is truncated inside the .npy header") }
            lengthStart = 12
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
        default:
            throw DatasetError(name, "has unsupported .npy format version \(major).\(prefix[7])")
        }
        guard headerLength <= available - lengthStart else {
            throw DatasetError(name, "is truncated: the .npy header claims \(headerLength) bytes but only \(available - lengthStart) follow")
        }
        let text = try read(lengthStart, headerLength)
        var parser = HeaderParser(bytes: text)
        guard let fields = parser.parseDict() else {
            throw DatasetError(name, "has a malformed .npy header: \(printable(text.prefix(120)))")
        }
        guard case .string(let descr)? = fields["descr"] else {
            throw DatasetError(name, "has an unsupported dtype (structured or missing 'descr')")
        }
        guard case .bool(let fortran)? = fields["fortran_order"] else { throw DatasetError(name, ".npy header lacks 'fortran_order'") }
        guard case .tuple(let shape)? = fields["shape"] else { throw DatasetError(name, ".npy header lacks 'shape'") }
        guard !shape.isEmpty else { throw DatasetError(name, "holds a 0-d array; samples must lie along a first axis") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw DatasetError(name, "has a negative dimension in shape \(formatShape(shape))") }
        let (type, swapped) = try parseDescr(descr, name: name)
        let header = NpyHeader(type: type, swapped: swapped, fortranOrder: fortran, shape: shape, descr: descr,
                               dataOffset: lengthStart + headerLength)
        guard let needed = header.dataByteCount, needed <= available - header.dataOffset else {
            let claim = header.dataByteCount.map { "\($0) bytes" } ?? "more bytes than fit in memory"
            throw DatasetError(name, "header claims shape \(formatShape(shape)) \(type.rawValue) (\(claim)) but the file holds only \(available - header.dataOffset) bytes of data")
        }
        return header
    }

    /// Maps a NumPy type string such as `<f4` or `|u1` to an element type and byte order.
    static func parseDescr(_ descr: String, name: String) throws -> (ElementType, swapped: Bool) {
        let chars = Array(descr)
        let types: [String: ElementType] = [
            "b1": .bool, "?1": .bool, "u1": .uint8, "i1": .int8, "u2": .uint16, "i2": .int16, "u4": .uint32,
            "i4": .int32, "u8": .uint64, "i8": .int64, "f2": .float16, "f4": .float32, "f8": .float64,
        ]
        guard chars.count >= 2, "<>|=".contains(chars[0]), let type = types[String(chars.dropFirst())] else {
            throw DatasetError(name, "has unsupported dtype '\(descr)' (supported: bool, u1-u8, i1-i8, f2, f4, f8)")
        }
        let bigEndianMachine = 1.bigEndian == 1
        let swapped = type.byteSize > 1 && ((chars[0] == "<" && bigEndianMachine) || (chars[0] == ">" && !bigEndianMachine))
        return (type, swapped)
    }
}

/// A value in the Python dict literal of a .npy header.
enum HeaderValue: Equatable {
    case string(String), bool(Bool), tuple([Int]), other
}

/// A small parser for the Python literal a .npy header holds: `{'descr': '<f4', 'fortran_order':
/// False, 'shape': (3, 4), }`. Lists (structured dtypes) parse as `.other`.
struct HeaderParser {
    let bytes: [UInt8]
    var at = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDict() -> [String: HeaderValue]? {
        guard take("{") else { return nil }
        var result: [String: HeaderValue] = [:]
        while true {
            if take("}") { return result }
            guard case .string(let key)? = parseValue(), take(":"), let value = parseValue() else { return nil }
            result[key] = value
            if take(",") { continue }
            guard take("}") else { return nil }
            return result
        }
    }

    private mutating func parseValue() -> HeaderValue? {
        skipSpace()
        guard at < bytes.count else { return nil }
        switch bytes[at] {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            let quote = bytes[at]
            guard let end = bytes[(at + 1)...].firstIndex(of: quote) else { return nil }
            defer { at = end + 1 }
            return .string(String(decoding: bytes[(at + 1)..<end], as: UTF8.self))
        case UInt8(ascii: "("):
            at += 1
            var dims: [Int] = []
            while true {
                if take(")") { return .tuple(dims) }
                guard let dim = parseInt() else { return nil }
                dims.append(dim)
                if take(",") { continue }
                guard take(")") else { return nil }
                return .tuple(dims)
            }
        case UInt8(ascii: "["):
            // A structured dtype's field list: skip to the matching bracket.
            var depth = 0
            while at < bytes.count {
                if bytes[at] == UInt8(ascii: "[") { depth += 1 }
                if bytes[at] == UInt8(ascii: "]") { depth -= 1; if depth == 0 { at += 1; return .other } }
                at += 1
            }
            return nil
        default:
            if takeWord("True") { return .bool(true) }
            if takeWord("False") { return .bool(false) }
            return nil
        }
    }

    private mutating func parseInt() -> Int? {
        skipSpace()
        var value = 0, digits = 0, negative = false
        if at < bytes.count, bytes[at] == UInt8(ascii: "-") { negative = true; at += 1 }
        while at < bytes.count, bytes[at] >= 48, bytes[at] <= 57 {
            let (next, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow, next <= Int.max - Int(bytes[at] - 48) else { return nil }
            value = next + Int(bytes[at] - 48)
            at += 1
            digits += 1
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "L") { at += 1 }  // Python 2 long suffix
        return digits > 0 ? (negative ? -value : value) : nil
    }

    private mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 32 || bytes[at] == 9 || bytes[at] == 10 || bytes[at] == 13 { at += 1 }
    }

    private mutating func take(_ char: Character) -> Bool {
        skipSpace()
        guard at < bytes.count, bytes[at] == char.asciiValue! else { return false }
        at += 1
        return true
    }

    private mutating func takeWord(_ word: String) -> Bool {
        let utf8 = Array(word.utf8)
        guard bytes.count - at >= utf8.count, Array(bytes[at..<(at + utf8.count)]) == utf8 else { return false }
        at += utf8.count
        return true
    }
}

/// Header bytes as one printable line: controls become spaces, ends trimmed, non-ASCII `?`.
func printable(_ bytes: ArraySlice<UInt8>) -> String {
    let text = bytes.map { $0 < 0x20 ? " " : $0 > 0x7e ? "?" : Character(UnicodeScalar($0)) }
    return String(text.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
}
