import Foundation
import XCTest
@testable import Datasets

/// libspng and libjpeg-turbo behind `decodeImage`: every PNG colour type, JPEGs against Pillow's
/// decoding, and the one-line refusals of broken and hostile files.
final class ImageDecodingTests: DatasetTestCase {
    let fixtures = "Fixtures/images"

    func testPNGColourTypesBecomeRGB() throws {
        // Grayscale is replicated.
        var image = try decodeImage(path: try write("g.png", pngBytes(width: 2, height: 1, colorType: 0, rows: [7, 200])))
        XCTAssertEqual(image.pixels, [7, 7, 7, 200, 200, 200])
        // RGBA: alpha dropped, not composited (Pillow's convert("RGB")).
        image = try decodeImage(path: try write("a.png", pngBytes(width: 1, height: 2, colorType: 6, rows: [1, 2, 3, 0, 9, 8, 7, 128])))
        XCTAssertEqual(image.pixels, [1, 2, 3, 9, 8, 7])
        // Palette, 8-bit indices.
        image = try decodeImage(path: try write("p.png", pngBytes(width: 3, height: 1, colorType: 3, rows: [1, 0, 1],
                                                                  palette: [10, 20, 30, 40, 50, 60])))
        XCTAssertEqual(image.pixels, [40, 50, 60, 10, 20, 30, 40, 50, 60])
        // 16-bit RGB: the high byte of each sample.
        image = try decodeImage(path: try write("16.png", pngBytes(width: 1, height: 1, colorType: 2, bitDepth: 16,
                                                                   rows: [0x12, 0x34, 0xab, 0xcd, 0xff, 0x01])))
        XCTAssertEqual(image.pixels, [0x12, 0xab, 0xff])
        // Grayscale + alpha.
        image = try decodeImage(path: try write("ga.png", pngBytes(width: 1, height: 1, colorType: 4, rows: [99, 3])))
        XCTAssertEqual(image.pixels, [99, 99, 99])
    }

    /// Baseline, progressive and grayscale JPEGs decode to exactly Pillow's pixels
    /// (Fixtures/images/decoded.npz, written by Tools/make-image-fixtures.py).
    func testJPEGsDecodeToPillowsPixels() throws {
        for name in ["rgb", "progressive", "gray"] {
            let image = try decodeImage(path: "\(fixtures)/\(name).jpg")
            XCTAssertEqual([image.height, image.width], [23, 37], name)
            let reference = try openSource(path: "\(fixtures)/decoded.npz:\(name)")
            XCTAssertEqual(reference.sampleShape, [37, 3])
            XCTAssertEqual(image.pixels.map(Float.init), try values(reference), name)
        }
    }

    func testBrokenAndHostileFilesAreRefusedInOneLine() throws {
        assertError("\(fixtures)/truncated.jpg: is not a readable JPEG") { _ = try decodeImage(path: "\(fixtures)/truncated.jpg") }
        assertError("\(fixtures)/bomb.jpg: declares 60000x60000 pixels, more than the limit") { _ = try decodeImage(path: "\(fixtures)/bomb.jpg") }
        let bomb = try write("bomb.png", pngBytes(width: 100_000, height: 100_000, colorType: 2, rows: [], ihdrOnly: true))
        assertError("bomb.png: declares 100000x100000 pixels, more than the limit of 178956970 (a decompression bomb?)") {
            _ = try decodeImage(path: bomb)
        }
        var png = rgbPNG(width: 4, height: 4, patternPixels(width: 4, height: 4))
        png[png.count - 20] ^= 0xff  // inside IDAT: a checksum fails
        let corrupt = try write("corrupt.png", png)
        assertError("corrupt.png: is not a readable PNG") { _ = try decodeImage(path: corrupt) }
        let text = try write("text.png", Array("hello".utf8))
        assertError("text.png: is neither a JPEG nor a PNG file") { _ = try decodeImage(path: text) }
    }

    /// Mutated and cut copies of valid files decode or fail with a one-line error; none crashes.
    func testMutatedFilesNeverCrash() throws {
        var state: UInt64 = 0x1234_5678
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let png = rgbPNG(width: 9, height: 7, patternPixels(width: 9, height: 7))
        let originals = [try Array(Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/rgb.jpg"))),
                         try Array(Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/progressive.jpg"))), png]
        var decoded = 0, refused = 0
        for (index, original) in originals.enumerated() {
            for round in 0..<150 {
                var bytes = original
                if round % 5 == 4 {
                    bytes = Array(bytes.prefix(next() % bytes.count))
                } else {
                    for _ in 0..<(1 + next() % 4) where !bytes.isEmpty { bytes[next() % bytes.count] = UInt8(next() & 0xff) }
                }
                let path = try write("fuzz\(index)-\(round).bin", bytes)
                do {
                    let image = try decodeImage(path: path)
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                    decoded += 1
                } catch let error as DatasetError {
                    XCTAssertTrue(error.message.hasPrefix(path + ": "), error.message)
                    XCTAssertFalse(error.message.contains("\n"))
                    refused += 1
                }
            }
        }
        XCTAssertEqual(decoded + refused, 450)
    }
}
