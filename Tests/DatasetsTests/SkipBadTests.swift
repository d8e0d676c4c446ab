import Foundation
import XCTest
@testable import Datasets

/// `--skip-bad` (`ImageFolderOptions.skipBad`): unreadable images are left out of the samples and
/// recorded, in file order; without it the first one stops the read with its one-line error.
final class SkipBadTests: DatasetTestCase {
    /// A folder of three good PNGs among a truncated JPEG, a PNG signature followed by garbage,
    /// a zero-byte file and a decompression bomb (a PNG header declaring 100000×100000 pixels).
    private func mixedFolder() throws -> (path: String, bad: [String]) {
        let root = directory.appendingPathComponent("data")
        func put(_ relative: String, _ bytes: [UInt8]) throws -> String {
            let url = root.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
            return url.path
        }
        let good = { (seed: Int) in rgbPNG(width: 4, height: 3, patternPixels(width: 4, height: 3, seed: seed)) }
        let truncated = try Array(Data(contentsOf: URL(fileURLWithPath: "Fixtures/images/truncated.jpg")))
        _ = try put("a/0.png", good(0))
        let garbage = try put("a/1.png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + Array(repeating: 0x41, count: 64))
        let cut = try put("b/2.jpg", truncated)
        let empty = try put("b/3.png", [])
        _ = try put("b/4.png", good(4))
        let bomb = try put("c/5.png", pngBytes(width: 100_000, height: 100_000, colorType: 2, rows: [], ihdrOnly: true))
        _ = try put("c/6.png", good(6))
        return (root.path, [garbage, cut, empty, bomb])
    }

    func testBadImagesAreLeftOutAndRecordedInOrder() throws {
        let (path, bad) = try mixedFolder()
        let log = SkippedImages()
        let source = try XCTUnwrap(try openSource(path: path, images: ImageFolderOptions(threads: 2, skipBad: log)) as? ImageFolderSource)
        XCTAssertEqual(source.count, 3)
        XCTAssertEqual(source.files.map { ($0 as NSString).lastPathComponent }, ["0.png", "4.png", "6.png"])
        XCTAssertEqual(source.labels, [0, 1, 2])
        XCTAssertEqual(try source.labelSource.readLabels(start: 0, count: 3), [0, 1, 2])
        XCTAssertEqual(try values(source).count, 3 * 36)
        XCTAssertEqual(log.entries.map(\.file), bad)
        let errors = log.entries.map(\.error)
        XCTAssertTrue(errors[0].hasPrefix("\(bad[0]): is not a readable PNG"), errors[0])
        XCTAssertTrue(errors[1].hasPrefix("\(bad[1]): is not a readable JPEG"), errors[1])
        XCTAssertEqual(errors[2], "\(bad[2]): is neither a JPEG nor a PNG file")
        XCTAssertTrue(errors[3].contains("declares 100000x100000 pixels, more than the limit"), errors[3])
        // Opening the folder again (trim does, once per round) records nothing twice.
        _ = try openSource(path: path, images: ImageFolderOptions(skipBad: log))
        XCTAssertEqual(log.entries.count, 4)
    }

    func testWithoutSkipBadTheFirstBadImageStops() throws {
        let (path, bad) = try mixedFolder()
        let source = try openSource(path: path, images: ImageFolderOptions(threads: 2))
        XCTAssertEqual(source.count, 7)
        assertError("\(bad[0]): is not a readable PNG") { _ = try values(source) }
    }

    /// The sample shape comes from the first readable image, even when the first file is bad.
    func testAFolderOfOnlyBadImagesIsAnErrorAndABadFirstFileIsNoProblem() throws {
        let root = directory.appendingPathComponent("bad")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("a"), withIntermediateDirectories: true)
        try Data().write(to: root.appendingPathComponent("a/0.png"))
        assertError("\(root.path): has no readable images (all 1 were left out by --skip-bad)", exact: true) {
            _ = try openSource(path: root.path, images: ImageFolderOptions(skipBad: SkippedImages()))
        }
        try Data(rgbPNG(width: 5, height: 2, patternPixels(width: 5, height: 2))).write(to: root.appendingPathComponent("a/1.png"))
        let source = try openSource(path: root.path, images: ImageFolderOptions(skipBad: SkippedImages()))
        XCTAssertEqual(source.sampleShape, [3, 2, 5])
    }
}

/// An image within the pixel limit whose shape makes `--resize N` ask for more than the limit
/// (a 150,000,000×1 PNG header: resized to a shorter side of 256 it would be 38.4 G pixels).
final class ResizeBombTests: DatasetTestCase {
    func testAResizeBeyondThePixelLimitIsRefusedBeforeDecoding() throws {
        let root = directory.appendingPathComponent("wide/a")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let file = root.appendingPathComponent("0.png").path
        try Data(pngBytes(width: 150_000_000, height: 1, colorType: 2, rows: [], ihdrOnly: true)).write(to: URL(fileURLWithPath: file))
        let options = ImageFolderOptions(transform: ImageTransform(resize: .shorterSide(256), crop: 224))
        assertError("\(file): is 150000000x1, which resizes to 38400000000x256 pixels, more than the limit of 178956970", exact: true) {
            _ = try openSource(path: directory.appendingPathComponent("wide").path, images: options)
        }
        // Under --skip-bad it is one more unreadable image.
        try Data(rgbPNG(width: 4, height: 3, patternPixels(width: 4, height: 3))).write(to: root.appendingPathComponent("1.png"))
        var skipping = options
        skipping.skipBad = SkippedImages()
        let source = try openSource(path: directory.appendingPathComponent("wide").path, images: skipping)
        XCTAssertEqual(source.count, 1)
        XCTAssertEqual(skipping.skipBad?.entries.map(\.file), [file])
    }
}

/// The PNG seeds of the libFuzzer png harness (Fixtures/fuzz, Tools/fixtures/make_fuzz_seeds.py)
/// decode: a seed that fails at once would start the fuzzer on error paths only.
final class FuzzSeedImageTests: DatasetTestCase {
    func testEveryPNGSeedDecodes() throws {
        let folder = "Fixtures/fuzz"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".png") }.sorted()
        XCTAssertEqual(names.count, 9)
        for name in names {
            let image = try decodeImage(path: "\(folder)/\(name)")
            XCTAssertEqual(image.pixels.count, image.width * image.height * 3, name)
        }
        let adam7 = try decodeImage(path: "\(folder)/adam7.png")
        XCTAssertEqual([adam7.width, adam7.height], [8, 8])
    }
}
