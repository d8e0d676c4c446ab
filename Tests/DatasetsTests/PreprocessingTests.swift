import XCTest
@testable import Datasets

final class PreprocessingTests: DatasetTestCase {
    func read(_ reader: BatchReader, count: Int) throws -> [Float] {
        var out = [Float](repeating: .nan, count: count * reader.sampleElementCount)
        try out.withUnsafeMutableBufferPointer { try reader.read(start: 0, count: count, into: $0.baseAddress!) }
        return out
    }

    func testScaleMeanStdPerChannel() throws {
        // Two samples of [2 channels, 2 values], uint8.
        let path = try write("x.npy", Bytes.npy([0, 255, 51, 102, 10, 20, 30, 40], shape: [2, 2, 2], descr: "|u1"))
        let pre = Preprocessing(scale: 1.0 / 255, mean: [0.5, 0.25], std: [0.5, 0.25])
        let reader = try BatchReader(source: try openSource(path: path), modelInput: [nil, 2, 2], inputName: "in", preprocessing: pre)
        let got = try read(reader, count: 2)
        let stats: [Float] = [0.5, 0.25]
        let expected: [Float] = ([0, 255, 51, 102, 10, 20, 30, 40] as [Float]).enumerated().map { i, v in
            let c = (i / 2) % 2
            return (v / 255 - stats[c]) / stats[c]
        }
        for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // One mean/std value broadcasts to every channel.
        let single = try BatchReader(source: try openSource(path: path), modelInput: [nil, 2, 2], inputName: "in",
                                     preprocessing: Preprocessing(mean: [10], std: [2]))
        XCTAssertEqual(try read(single, count: 1), [-5, 122.5, 20.5, 46])
    }

    func testPreprocessingErrors() throws {
        let source = try openSource(path: try write("x.npy", Bytes.npy([1, 2, 3, 4], shape: [1, 2, 2], descr: "<f4")))
        assertError("mean has 3 values but the model's samples have 2 channels") {
            _ = try BatchReader(source: source, modelInput: [nil, 2, 2], inputName: "in", preprocessing: Preprocessing(mean: [1, 2, 3]))
        }
        assertError("std must be finite and non-zero, got 0.0") {
            _ = try BatchReader(source: source, modelInput: [nil, 2, 2], inputName: "in", preprocessing: Preprocessing(std: [0]))
        }
    }

    func testNHWCIsTransposedToNCHW() throws {
        // One sample [H=2, W=2, C=3]: value = 100*h + 10*w + c.
        var hwc: [Double] = []
        for h in 0..<2 { for w in 0..<2 { for c in 0..<3 { hwc.append(Double(100 * h + 10 * w + c)) } } }
        for fortran in [false, true] {
            let source = try openSource(path: try write("x.npy", Bytes.npy(hwc + hwc.map { $0 + 1000 }, shape: [2, 2, 2, 3], descr: "<f8", fortran: fortran)))
            let reader = try BatchReader(source: source, modelInput: [nil, 3, 2, 2], inputName: "in",
                                         preprocessing: Preprocessing(mean: [0, 1, 2], layout: .nhwc))
            XCTAssertEqual(reader.sampleShape, [3, 2, 2])
            let got = try read(reader, count: 2)
            // After the transpose, [c, h, w] holds 100h + 10w + c, and the mean removes c.
            let chw: [Float] = [0, 10, 100, 110]
            XCTAssertEqual(Array(got[0..<12]), chw + chw + chw)
            XCTAssertEqual(Array(got[12..<24]), (chw + chw + chw).map { $0 + 1000 })
        }
    }

    func testMissingChannelAxisAndFlatten() throws {
        let values = (0..<8).map(Double.init)
        let source = try openSource(path: try write("x.npy", Bytes.npy(values, shape: [2, 2, 2], descr: "<f4")))
        let withChannel = try BatchReader(source: source, modelInput: [nil, 1, 2, 2], inputName: "in")
        XCTAssertEqual(withChannel.sampleShape, [1, 2, 2])
        XCTAssertEqual(try read(withChannel, count: 2), values.map { Float($0) })
        // NHWC data without a channel axis also gets one (nothing to transpose).
        let nhwc = try BatchReader(source: source, modelInput: [1, 1, 2, 2], inputName: "in", preprocessing: Preprocessing(layout: .nhwc))
        XCTAssertEqual(nhwc.sampleShape, [1, 2, 2])
        XCTAssertEqual(nhwc.modelBatchSize, 1)
        XCTAssertEqual(try read(nhwc, count: 1), [0, 1, 2, 3])
        let flat = try BatchReader(source: source, modelInput: [nil, 4], inputName: "in")
        XCTAssertEqual(flat.sampleShape, [4])
        let symbolic = try BatchReader(source: source, modelInput: [nil, nil, 2], inputName: "in")
        XCTAssertEqual(symbolic.sampleShape, [2, 2])
    }

    func testShapeMismatchMessage() throws {
        let path = try write("val.npy", Bytes.npy([Double](repeating: 0, count: 3 * 4 * 4), shape: [1, 3, 4, 4], descr: "<f4"))
        let source = try openSource(path: path)
        assertError("\(path): samples have shape [3,4,4] but the model's input 'input' wants [1,28,28]", exact: true) {
            _ = try BatchReader(source: source, modelInput: [nil, 1, 28, 28], inputName: "input")
        }
        assertError("\(path): samples have shape [3,4,4] (NHWC, so [4,3,4] channels first) but the model's input 'input' wants [3,?,?]", exact: true) {
            _ = try BatchReader(source: source, modelInput: [nil, 3, nil, nil], inputName: "input", preprocessing: Preprocessing(layout: .nhwc))
        }
    }
}
