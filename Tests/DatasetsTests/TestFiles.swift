import CZlibSystem
import Foundation
import XCTest
@testable import Datasets

/// A fresh temporary directory per test, removed afterwards.
class DatasetTestCase: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes `bytes` to `name` in the test directory and returns its path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Writes `bytes` gzipped through zlib's gzwrite.
    func writeGzip(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = directory.appendingPathComponent(name).path
        let handle = try XCTUnwrap(gzopen(path, "wb"))
        let written = bytes.withUnsafeBytes { gzwrite(handle, $0.baseAddress, UInt32($0.count)) }
        XCTAssertEqual(Int(written), bytes.count)
        XCTAssertEqual(gzclose(handle), Z_OK)
        return path
    }

    /// Reads `count` samples from `start` as a flat array.
    func values(_ source: SampleSource, start: Int = 0, count: Int? = nil) throws -> [Float] {
        let n = count ?? source.count - start
        var out = [Float](repeating: .nan, count: n * source.sampleElementCount)
        try out.withUnsafeMutableBufferPointer { try source.read(start: start, count: n, into: $0.baseAddress!) }
        return out
    }

    /// Asserts that `body` throws a `DatasetError` whose message is `expected` (or contains it).
    func assertError(_ expected: String, exact: Bool = false, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected an error containing \(expected)", file: file, line: line)
        } catch let error as DatasetError {
            if exact {
                XCTAssertEqual(error.message, expected, file: file, line: line)
            } else {
                XCTAssertTrue(error.message.contains(expected), "'\(error.message)' lacks '\(expected)'", file: file, line: line)
            }
            XCTAssertFalse(error.message.contains("\n"), "error spans lines: \(error.message)", file: file, line: line)
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
        }
    }
}

/// Builds .npy and IDX bytes by hand, independently of the readers under test.
enum Bytes {
    /// Little- or big-endian bytes of `values` stored as NumPy type `code` (e.g. "f4", "u1", "b1").
    static func encode(_ values: [Double], code: String, bigEndian: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) {
            let ordered = bigEndian ? v.bigEndian : v.littleEndian
            withUnsafeBytes(of: ordered) { out += $0 }
        }
        for v in values {
            switch code {
            case "b1", "u1": out.append(UInt8(v))
            case "i1": out.append(UInt8(bitPattern: Int8(v)))
            case "u2": put(UInt16(v))
            case "i2": put(Int16(v))
            case "i4": put(Int32(v))
            case "u4": put(UInt32(v))
            case "i8": put(Int64(v))
            case "u8": put(UInt64(v))
            case "f2": put(Float16(Float(v)).bitPattern)
            case "f4": put(Float(v).bitPattern)
            case "f8": put(v.bitPattern)
            default: fatalError("test encoder lacks \(code)")
            }
        }
        return out
    }

    /// A .npy file (format `major`.0) whose header dict is `dict` verbatim, padded as NumPy pads it.
    static func npy(dict: String, data: [UInt8], major: UInt8 = 1) -> [UInt8] {
        let prefix = major == 1 ? 10 : 12
        var header = Array(dict.utf8)
        while (prefix + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0a)
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
        let n = header.count
        out += major == 1 ? [UInt8(n & 0xff), UInt8(n >> 8)] : [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
        return out + header + data
    }

    /// A .npy of `values` (given in C order) with `shape`, stored in C or Fortran order.
    static func npy(_ values: [Double], shape: [Int], descr: String, fortran: Bool = false, major: UInt8 = 1) -> [UInt8] {
        let stored = fortran ? toFortran(values, shape: shape) : values
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let dict = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
        return npy(dict: dict, data: encode(stored, code: String(descr.dropFirst()), bigEndian: descr.hasPrefix(">")), major: major)
    }

    /// Reorders C-order `values` of `shape` into Fortran order.
    static func toFortran(_ values: [Double], shape: [Int]) -> [Double] {
        var out = [Double](repeating: 0, count: values.count)
        for f in 0..<values.count {
            var rest = f, c = 0, step = 1
            var index = [Int](repeating: 0, count: shape.count)
            for axis in 0..<shape.count { index[axis] = rest % shape[axis]; rest /= shape[axis] }
            for axis in stride(from: shape.count - 1, through: 0, by: -1) { c += index[axis] * step; step *= shape[axis] }
            out[f] = values[c]
        }
        return out
    }

    /// An IDX file: magic, big-endian dimensions, big-endian data of type byte `type`.
    static func idx(_ values: [Double], shape: [Int], type: UInt8) -> [UInt8] {
        let codes: [UInt8: String] = [0x08: "u1", 0x09: "i1", 0x0B: "i2", 0x0C: "i4", 0x0D: "f4", 0x0E: "f8"]
        var out: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for d in shape { out += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        return out + encode(values, code: codes[type]!, bigEndian: true)
    }
}
