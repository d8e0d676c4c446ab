import Foundation
import XCTest
@testable import Datasets

/// `ImageFolderSource`: torchvision's ImageFolder order and labels, the transform, and the
/// errors for folders that cannot be read as a data set.
final class ImageFolderTests: DatasetTestCase {
    /// Writes `files` (relative paths) as PNGs of `width × height`; returns the folder's path.
    @discardableResult
    func folder(_ files: [String], width: Int = 4, height: Int = 3) throws -> String {
        for (index, file) in files.enumerated() {
            let url = directory.appendingPathComponent("data/" + file)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(rgbPNG(width: width, height: height, patternPixels(width: width, height: height, seed: index))).write(to: url)
        }
        return directory.appendingPathComponent("data").path
    }

    func testClassesSortedFilesSortedRecursiveAndCaseInsensitiveExtensions() throws {
        let path = try folder(["dog/b.PNG", "cat/z.png", "cat/a.png", "dog/sub/c.png", "dog/a b.jpeg.png", "Zebra/x.png"])
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: path + "/cat/notes.txt"))
        let source = try XCTUnwrap(try openSource(path: path) as? ImageFolderSource)
        XCTAssertEqual(source.classes, ["Zebra", "cat", "dog"])  // code-point order, as Python's sorted()
        XCTAssertEqual(source.files.map { String($0.dropFirst(path.count + 1)) },
                       ["Zebra/x.png", "cat/a.png", "cat/z.png", "dog/a b.jpeg.png", "dog/b.PNG", "dog/sub/c.png"])
        XCTAssertEqual(source.labels, [0, 1, 1, 2, 2, 2])
        XCTAssertEqual(source.sampleShape, [3, 3, 4])
        XCTAssertEqual(try source.labelSource.readLabels(start: 0, count: 6), [0, 1, 1, 2, 2, 2])
    }

    /// PNG pixels arrive bit-exact, channels first, in 0...255; bgr reverses the channels and gray
    /// is Pillow's convert("L").
    func testSamplesAreExactPixelsChannelsFirst() throws {
        let path = try folder(["a/0.png", "b/1.png"])
        let source = try openSource(path: path)
        let pixels = patternPixels(width: 4, height: 3, seed: 1)
        let sample = Array(try values(source, start: 1, count: 1))
        for c in 0..<3 {
            XCTAssertEqual(Array(sample[(c * 12)..<((c + 1) * 12)]), stride(from: c, to: 36, by: 3).map { Float(pixels[$0]) })
        }
        var options = ImageFolderOptions(transform: ImageTransform(color: .bgr))
        XCTAssertEqual(Array(try values(try openSource(path: path, images: options), start: 1, count: 1)[0..<12]),
                       stride(from: 2, to: 36, by: 3).map { Float(pixels[$0]) })
        options.transform.color = .gray
        let gray = try values(try openSource(path: path, images: options), start: 1, count: 1)
        XCTAssertEqual(gray.count, 12)
        XCTAssertEqual(gray[0], Float((UInt32(pixels[0]) * 19595 + UInt32(pixels[1]) * 38470 + UInt32(pixels[2]) * 7471 + 0x8000) >> 16))
    }

    func testClassesFileFixesTheMapping() throws {
        let path = try folder(["b/1.png", "d/2.png"])
        let list = try write("classes.txt", Array("a\nb\nc\nd\n\n".utf8))
        let source = try XCTUnwrap(try openSource(path: path, images: ImageFolderOptions(classesFile: list)) as? ImageFolderSource)
        XCTAssertEqual(source.labels, [1, 3])
        // Samples stay in sorted folder order when the list orders the classes otherwise.
        let reversed = try write("reversed.txt", Array("d\nc\nb\n".utf8))
        let other = try XCTUnwrap(try openSource(path: path, images: ImageFolderOptions(classesFile: reversed)) as? ImageFolderSource)
        XCTAssertEqual(other.labels, [2, 0])
        XCTAssertEqual(other.files, source.files)
        let short = try write("short.txt", Array("b\n".utf8))
        assertError("class folder 'd' is not listed in \(short)") { _ = try openSource(path: path, images: ImageFolderOptions(classesFile: short)) }
        let twice = try write("twice.txt", Array("b\nd\nb\n".utf8))
        assertError("lists class 'b' twice") { _ = try openSource(path: path, images: ImageFolderOptions(classesFile: twice)) }
    }

    func testFolderErrors() throws {
        let empty = directory.appendingPathComponent("empty").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        assertError("\(empty): has no class folders") { _ = try openSource(path: empty) }
        let path = try folder(["a/0.png"])
        try FileManager.default.createDirectory(atPath: path + "/b", withIntermediateDirectories: true)
        assertError("\(path)/b: class folder has no .jpg, .jpeg or .png images", exact: true) { _ = try openSource(path: path) }
    }

    func testDifferingSizesNeedAResize() throws {
        try folder(["a/0.png"], width: 4, height: 3)
        let path = try folder(["b/1.png"], width: 6, height: 3)
        let source = try openSource(path: path)
        assertError("\(path)/b/1.png: is 6x3 but \(path)/a/0.png is 4x3; use --resize HxW or --crop N") { _ = try values(source) }
        let resized = try openSource(path: path, images: ImageFolderOptions(transform: ImageTransform(resize: .exact(height: 2, width: 2))))
        XCTAssertEqual(resized.sampleShape, [3, 2, 2])
        XCTAssertEqual(try values(resized).count, 24)
    }

    /// Sequential reads are served from the batch decoded ahead; other reads decode afresh; a
    /// broken file in a batch decoded ahead fails the read of that batch, not an earlier one.
    func testReadAheadGivesTheSameSamplesAndErrorsInPlace() throws {
        let path = try folder((0..<7).map { "c\($0 % 2)/\($0).png" })
        let reference = try values(try openSource(path: path, images: ImageFolderOptions(threads: 1)))
        let source = try openSource(path: path, images: ImageFolderOptions(threads: 2))
        let per = source.sampleElementCount
        for (start, count) in [(0, 2), (2, 2), (4, 2), (6, 1), (1, 3), (4, 3), (0, 7)] {
            XCTAssertEqual(try values(source, start: start, count: count), Array(reference[(start * per)..<((start + count) * per)]),
                           "\(start)..<\(start + count)")
        }
        // A shuffled batch, decoded in parallel, in the order asked.
        let order = [5, 0, 6, 2]
        var shuffled = [Float](repeating: .nan, count: order.count * per)
        try shuffled.withUnsafeMutableBufferPointer { try source.read(indices: order, into: $0.baseAddress!) }
        XCTAssertEqual(shuffled, order.flatMap { Array(reference[($0 * per)..<(($0 + 1) * per)]) })
        let broken = (source as! ImageFolderSource).files[3]
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: broken))
        let fresh = try openSource(path: path)
        XCTAssertEqual(try values(fresh, start: 0, count: 2).count, 2 * per)
        assertError("\(broken): is neither a JPEG nor a PNG file") { _ = try values(fresh, start: 2, count: 2) }
        XCTAssertEqual(try values(fresh, start: 4, count: 3).count, 3 * per)
    }

    /// A channels-last model input (Keras) gets the decoded channels-first samples transposed,
    /// with the per-channel steps applied to the right channel.
    func testChannelsLastModelInput() throws {
        let path = try folder(["a/0.png"], width: 4, height: 3)
        let pixels = patternPixels(width: 4, height: 3)
        let reader = try BatchReader(source: try openSource(path: path), modelInput: [nil, 3, 4, 3], inputName: "x",
                                     preprocessing: Preprocessing(mean: [0, 100, 200]))
        XCTAssertEqual(reader.sampleShape, [3, 4, 3])
        var out = [Float](repeating: 0, count: 36)
        try out.withUnsafeMutableBufferPointer { try reader.read(start: 0, count: 1, into: $0.baseAddress!) }
        XCTAssertEqual(out, pixels.enumerated().map { Float($0.element) - [0, 100, 200][$0.offset % 3] })
    }

    /// torchvision's sizes: the shorter side to N, the other int(N * long / short); the centre
    /// crop's offset rounds half to even; a crop larger than the image pads with zeros.
    func testResizeAndCropGeometry() {
        let t = ImageTransform(resize: .shorterSide(256))
        XCTAssertTrue(t.resizedSize(height: 375, width: 500) == (256, 341))
        XCTAssertTrue(t.resizedSize(height: 500, width: 333) == (384, 256))
        var image = DecodedImage(width: 3, height: 1, pixels: [10, 10, 10, 20, 20, 20, 30, 30, 30])
        var out = [Float](repeating: -1, count: 9)
        ImageTransform(crop: 3, color: .gray).apply(image, into: &out)
        XCTAssertEqual(Array(out[0..<9]), [0, 0, 0, 10, 20, 30, 0, 0, 0])  // padded rows above and below
        image = DecodedImage(width: 4, height: 1, pixels: [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4])
        out = [Float](repeating: -1, count: 1)
        ImageTransform(crop: 1, color: .gray).apply(image, into: &out)
        XCTAssertEqual(out, [3])  // offset round(1.5) = 2, half to even
    }

    /// Bilinear shrinking averages over the widened support (antialiasing); enlarging
    /// interpolates; nearest picks the pixel under each centre. Expected values are Pillow 12's.
    func testResamplingValues() {
        // 4 → 2 bilinear: support 2 around centre 1 covers pixels 0...2 with weights 0.75, 0.75, 0.25
        // (normalised): (0·3 + 80·3 + 160) / 7 = 57.1.
        let row: [UInt8] = [0, 80, 160, 240]
        XCTAssertEqual(resample(row, channels: 1, width: 4, height: 1, newWidth: 2, newHeight: 1, filter: .bilinear), [57, 183])
        // 2 → 4 bilinear: centres at 0.25, 0.75, 1.25, 1.75 in input pixel units, clamped at the edges.
        XCTAssertEqual(resample([0, 200], channels: 1, width: 2, height: 1, newWidth: 4, newHeight: 1, filter: .bilinear),
                       [0, 50, 150, 200])
        XCTAssertEqual(resample(row, channels: 1, width: 4, height: 1, newWidth: 2, newHeight: 1, filter: .nearest), [80, 240])
        // A constant image stays constant under every filter (weights sum to one).
        let flat = [UInt8](repeating: 77, count: 5 * 7)
        for filter in ImageTransform.Interpolation.allCases {
            XCTAssertEqual(resample(flat, channels: 1, width: 7, height: 5, newWidth: 3, newHeight: 9, filter: filter),
                           [UInt8](repeating: 77, count: 27), filter.rawValue)
        }
    }
}

/// The presets hold their libraries' constants.
final class PreprocessingPresetTests: XCTestCase {
    func testPresets() {
        let torchvision = PreprocessingPreset.torchvision.preprocessing
        XCTAssertEqual(torchvision.images.transform, ImageTransform(resize: .shorterSide(256), crop: 224, interpolation: .bilinear, color: .rgb))
        XCTAssertEqual(torchvision.scale, 1 / 255)
        XCTAssertEqual(torchvision.mean, [0.485, 0.456, 0.406])
        XCTAssertEqual(torchvision.std, [0.229, 0.224, 0.225])
        let caffe = PreprocessingPreset.kerasCaffe.preprocessing
        XCTAssertEqual(caffe.images.transform.color, .bgr)
        XCTAssertNil(caffe.scale)
        XCTAssertEqual(caffe.mean, [103.939, 116.779, 123.68])
        // keras-tf: 0 → -1, 255 → 1.
        let tf = try! PreprocessingPreset.kerasTF.preprocessing.affine(channels: 3, name: "x")
        XCTAssertEqual(0 * tf[0].0 + tf[0].1, -1)
        XCTAssertEqual(255 * tf[2].0 + tf[2].1, 1, accuracy: 1e-6)
        XCTAssertEqual(PreprocessingPreset.kerasTorch.preprocessing.std, [0.229, 0.224, 0.225])
        XCTAssertNil(PreprocessingPreset.kerasTorch.preprocessing.images.transform.resize)
    }
}

/// Training-time random resized crops: inside the image, within torchvision's ranges, reproducible.
final class RandomResizedCropTests: DatasetTestCase {
    func testRegionsStayInsideAndWithinTheRanges() {
        let crop = RandomResizedCrop(seed: 7)
        var fallbacks = 0
        for index in 0..<300 {
            let (h, w) = (50 + index % 37, 40 + index % 53)
            let r = crop.region(index: index, draw: index % 3, height: h, width: w)
            XCTAssertTrue(r.top >= 0 && r.left >= 0 && r.height > 0 && r.width > 0 && r.top + r.height <= h && r.left + r.width <= w)
            let area = Double(r.height * r.width) / Double(h * w), ratio = Double(r.width) / Double(r.height)
            if area == 1 || (r.height == h || r.width == w) && area > 0.75 { fallbacks += 1; continue }
            // Rounding to whole pixels moves area and ratio a little outside the drawn values.
            XCTAssertTrue(area > 0.06 && area <= 1.0001, "area \(area)")
            XCTAssertTrue(ratio > 0.6 && ratio < 1.5, "ratio \(ratio)")
            XCTAssertTrue(r == crop.region(index: index, draw: index % 3, height: h, width: w))
        }
        XCTAssertLessThan(fallbacks, 30)
        XCTAssertFalse(crop.region(index: 1, draw: 0, height: 80, width: 80) == crop.region(index: 1, draw: 1, height: 80, width: 80))
    }

    func testFolderCropsDifferPerReadAndRepeatAcrossThreadCounts() throws {
        for i in 0..<4 {
            let url = directory.appendingPathComponent("data/c\(i % 2)/\(i).png")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(rgbPNG(width: 30, height: 20, patternPixels(width: 30, height: 20, seed: i))).write(to: url)
        }
        let path = directory.appendingPathComponent("data").path
        func epochs(threads: Int) throws -> [[Float]] {
            let options = ImageFolderOptions(transform: ImageTransform(crop: 16), threads: threads)
            let source = try XCTUnwrap(try openSource(path: path, images: options) as? ImageFolderSource)
            source.randomResizedCrop = RandomResizedCrop(seed: 3)
            XCTAssertEqual(source.sampleShape, [3, 16, 16])
            return [try values(source), try values(source)]
        }
        let one = try epochs(threads: 1), two = try epochs(threads: 3)
        XCTAssertEqual(one, two)
        XCTAssertNotEqual(one[0], one[1])
    }
}
