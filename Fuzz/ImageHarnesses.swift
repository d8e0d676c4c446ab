import Foundation
@testable import Datasets
import ModelPipeline

/// Harnesses for the image decoders and the APoZ statistics reader (see Harnesses.swift).
extension Harnesses {
    /// The preprocessing the harnesses run after decoding: a shorter-side resize and a centre
    /// crop (the torchvision preset's geometry, smaller so each input stays cheap).
    static let imageTransform = ImageTransform(resize: .shorterSide(20), crop: 16, interpolation: .bicubic)

    /// A JPEG through libjpeg-turbo: header, bomb checks, decoding, then the resize and crop.
    static func jpeg(_ bytes: UnsafeRawBufferPointer) {
        guard let decoder = try? JPEGDecoder() else { return }
        let data = Array(bytes)
        guard let size = try? decoder.dimensions(data, name: "fuzz.jpg"), affordable(size) else { return }
        guard let image = try? decoder.decode(data, name: "fuzz.jpg") else { return }
        transform(image)
    }

    /// A PNG through libspng: header, bomb checks, decoding, then the resize and crop.
    static func png(_ bytes: UnsafeRawBufferPointer) {
        guard let decoder = try? PNGDecoder(Array(bytes), name: "fuzz.png"),
              let size = try? decoder.dimensions(), affordable(size),
              let image = try? decoder.decode() else { return }
        transform(image)
    }

    /// Images the pixel limit allows but that would take seconds each here (ASan, -Onone) are
    /// not decoded: the limit itself is a unit test (ImageDecodingTests), and a fuzzer stuck in
    /// one 100-megapixel decode finds nothing. 4 megapixels is far above what mutation reaches
    /// from the seeds' data anyway.
    private static func affordable(_ size: (width: Int, height: Int)) -> Bool {
        size.width * size.height <= 1 << 22
    }

    private static func transform(_ image: DecodedImage) {
        guard let out = try? imageTransform.checkedOutputSize(height: image.height, width: image.width, name: "fuzz") else { return }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 3 * out.height * out.width)
        defer { buffer.deallocate() }
        imageTransform.apply(image, into: buffer)
    }

    /// An APoZ statistics file: decoding and structural checks, then what every reader of one
    /// computes (warnings, APoZ, means, deviations) and a merge with itself (`apoz merge`).
    static func apozStats(_ bytes: UnsafeRawBufferPointer) {
        guard let stats = try? ApozStatistics.decode(Data(bytes), file: "stats.json") else { return }
        _ = stats.warnings
        for t in stats.tensors {
            _ = (t.apoz, t.means, t.standardDeviations)
        }
        var shifted = stats
        // A second shard: the same runs after the first ones, so the merge gets past the overlap check.
        shifted.runs = stats.runs.map { run in
            var r = run
            r.first = run.first.addingReportingOverflow(run.count).partialValue
            return r
        }
        _ = try? stats.merged([shifted], names: ["a.json", "b.json"])
    }
}
