import XCTest
@testable import Datasets

final class BadInputTests: DatasetTestCase {
    func testTruncatedNpy() throws {
        let full = Bytes.npy([1, 2, 3, 4], shape: [4], descr: "<f4")
        let path = try write("t.npy", Array(full.dropLast(3)))
        assertError("\(path): header claims shape [4] float32 (16 bytes) but the file holds only 13 bytes of data", exact: true) {
            _ = try openSource(path: path)
        }
        let headerCut = try write("h.npy", Array(full.prefix(40)))
        assertError("\(headerCut): is truncated: the .npy header claims 118 bytes but only 30 follow", exact: true) {
            _ = try openSource(path: headerCut)
        }
    }

    func testHugeShapeAgainstTinyFile() throws {
        let path = try write("huge.npy", Bytes.npy(dict: "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 3, 32, 32), }", data: [1, 2, 3, 4]))
        assertError("\(path): header claims shape [100000000000,3,32,32] float32 (1228800000000000 bytes) but the file holds only 4 bytes of data", exact: true) {
            _ = try openSource(path: path)
        }
        let overflow = try write("o.npy", Bytes.npy(dict: "{'descr': '<f8', 'fortran_order': True, 'shape': (4611686018427387904, 4), }", data: []))
        assertError("(more bytes than fit in memory) but the file holds only 0 bytes of data") { _ = try openSource(path: overflow) }
    }

    func testBadMagicAndUnknownFormats() throws {
        let path = try write("x.npy", Array("PNG not really".utf8))
        assertError("\(path): is not a recognised dataset (expected .npy, .npz, IDX, gzipped IDX or HDF5)", exact: true) {
            _ = try openSource(path: path)
        }
        var bytes = Bytes.npy([1], shape: [1], descr: "<f4")
        bytes[6] = 4
        let version = try write("v.npy", bytes)
        assertError("\(version): has unsupported .npy format version 4.0", exact: true) { _ = try openSource(path: version) }
        assertError("nope.npy: no such file", exact: true) { _ = try openSource(path: "nope.npy") }
        let npy = try write("one.npy", Bytes.npy([1], shape: [1], descr: "<f4"))
        assertError("\(npy): is a single-array npy file; drop the ':x' suffix", exact: true) { _ = try openSource(path: npy + ":x") }
    }

    func testUnknownAndMalformedDtypes() throws {
        let complex = try write("c.npy", Bytes.npy(dict: "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0, 0, 0, 0, 0]))
        assertError("\(complex): has unsupported dtype '<c8' (supported: bool, u1-u8, i1-i8, f2, f4, f8)", exact: true) {
            _ = try openSource(path: complex)
        }
        let structured = try write("s.npy", Bytes.npy(dict: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0]))
        assertError("has an unsupported dtype (structured or missing 'descr')") { _ = try openSource(path: structured) }
        let garbage = try write("g.npy", Bytes.npy(dict: "{'descr': '<f4', 'shape': (1,", data: []))
        assertError("has a malformed .npy header") { _ = try openSource(path: garbage) }
        let scalar = try write("z.npy", Bytes.npy(dict: "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", data: [0, 0, 0, 0]))
        assertError("holds a 0-d array") { _ = try openSource(path: scalar) }
    }

    func testCorruptZip() throws {
        let path = try write("bad.npz", [0x50, 0x4b, 0x03, 0x04] + [UInt8](repeating: 7, count: 40))
        assertError("\(path): is not a zip archive (no end-of-central-directory record)", exact: true) { _ = try openSource(path: path) }
    }
}
