import Foundation
import XCTest
import ZIPFoundation
@testable import Datasets

final class NpzTests: DatasetTestCase {
    /// Writes an archive of `members` (name, .npy bytes) with ZIPFoundation, an independent writer.
    func writeNpz(_ name: String, _ members: [(String, [UInt8])], deflate: Bool) throws -> String {
        let url = directory.appendingPathComponent(name)
        let archive = try Archive(url: url, accessMode: .create)
        for (member, bytes) in members {
            let data = Data(bytes)
            try archive.addEntry(with: member, type: .file, uncompressedSize: Int64(data.count),
                                 compressionMethod: deflate ? .deflate : .none) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        return url.path
    }

    func testStoredAndDeflatedMembersByName() throws {
        let x = (0..<24).map { Double($0) * 1.5 }
        for deflate in [false, true] {
            for fortran in [false, true] {
                let path = try writeNpz("d.npz", [
                    ("x.npy", Bytes.npy(x, shape: [4, 2, 3], descr: "<f4", fortran: fortran)),
                    ("y.npy", Bytes.npy([2, 0, 1, 7], shape: [4], descr: "<i8")),
                ], deflate: deflate)
                let label = "deflate=\(deflate) fortran=\(fortran)"
                let first = try openSource(path: path)
                XCTAssertEqual(first.name, path + ":x", label)
                XCTAssertEqual(first.sampleShape, [2, 3], label)
                XCTAssertEqual(try values(first), x.map { Float($0) }, label)
                // Backwards after forwards: a deflated member restarts its stream.
                XCTAssertEqual(try values(first, start: 3, count: 1), x[18...].map { Float($0) }, label)
                XCTAssertEqual(try values(first, start: 1, count: 1), x[6..<12].map { Float($0) }, label)
                XCTAssertEqual(try openSource(path: path + ":x.npy").count, 4, label)
                XCTAssertEqual(try openSource(path: path + ":y").readLabels(start: 0, count: 4), [2, 0, 1, 7], label)
                XCTAssertTrue(first.elementDescription.contains(deflate ? "(deflated)" : ".npz member"), first.elementDescription)
                try FileManager.default.removeItem(atPath: path)
            }
        }
    }

    /// A deflated member bigger than one decompression chunk, read in sequential batches.
    func testDeflatedMemberStreamsAcrossChunks() throws {
        let n = 1_200, per = 1_000
        let expected = (0..<(n * per)).map { Double(($0 * 31) % 256) }
        let path = try writeNpz("big.npz", [("x.npy", Bytes.npy(expected, shape: [n, per], descr: "|u1"))], deflate: true)
        let source = try openSource(path: path)
        var buffer = [Float](repeating: 0, count: 500 * per)
        var start = 0
        while start < n {
            let count = min(500, n - start)
            try buffer.withUnsafeMutableBufferPointer { try source.read(start: start, count: count, into: $0.baseAddress!) }
            for i in 0..<(count * per) where buffer[i] != Float(expected[start * per + i]) {
                return XCTFail("sample value \(start * per + i) differs")
            }
            start += count
        }
    }

    func testMissingMemberAndEmptyArchive() throws {
        let path = try writeNpz("m.npz", [("x.npy", Bytes.npy([1], shape: [1], descr: "<f4")),
                                          ("y.npy", Bytes.npy([1], shape: [1], descr: "<f4"))], deflate: false)
        assertError("\(path): has no array 'z' (arrays: x, y)", exact: true) { _ = try openSource(path: path + ":z") }
        let other = try writeNpz("o.npz", [("notes.txt", Array("hi".utf8))], deflate: false)
        assertError("holds no .npy arrays") { _ = try openSource(path: other) }
    }

    func testCorruptDeflatedMemberIsAnError() throws {
        let expected = (0..<4000).map { Double($0 % 7) }
        let path = try writeNpz("c.npz", [("x.npy", Bytes.npy(expected, shape: [4000], descr: "<f8"))], deflate: true)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        // Keep the directory at the end intact but scramble the compressed data after its header.
        for i in 120..<min(400, bytes.count - 200) { bytes[i] ^= 0x5a }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        assertError("\(path):x") {
            let source = try openSource(path: path)
            _ = try values(source)
        }
    }
}

final class NpzWriterTests: DatasetTestCase {
    /// Two arrays written by NpzWriter: ZIPFoundation (an independent reader, checking each
    /// member's CRC) finds both .npy members, and the Datasets reader gives the values back.
    func testWrittenArchiveReadsBack() throws {
        let path = directory.appendingPathComponent("out.npz").path
        let a = (0..<12).map { Float($0) - 5.5 }, b: [Float] = [1, -2, .infinity]
        try NpzWriter.write(to: path, arrays: [NpzWriter.Array(name: "logits", shape: [3, 4], values: a),
                                               NpzWriter.Array(name: "probs", shape: [3], values: b)])
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        var members: [String: Data] = [:]
        for entry in archive {
            var data = Data()
            _ = try archive.extract(entry, consumer: { data.append($0) })
            members[entry.path] = data
        }
        XCTAssertEqual(Set(members.keys), ["logits.npy", "probs.npy"])
        XCTAssertEqual(members["logits.npy"]?.count, NpyWriter.header(shape: [3, 4]).count + 48)
        for (name, shape, values) in [("logits", [3, 4], a), ("probs", [3], b)] {
            let source = try openSource(path: path + ":" + name)
            XCTAssertEqual([source.count] + source.sampleShape, shape)
            var read = [Float](repeating: 0, count: values.count)
            try read.withUnsafeMutableBufferPointer { try source.read(start: 0, count: source.count, into: $0.baseAddress!) }
            XCTAssertEqual(read, values)
        }
        XCTAssertThrowsError(try NpzWriter.write(to: path, arrays: [NpzWriter.Array(name: "x", shape: [2], values: [1])]))
    }
}
