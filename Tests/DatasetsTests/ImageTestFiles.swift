import CZlibSystem
import Foundation
@testable import Datasets

/// A minimal PNG encoder for the tests (zlib's compress and crc32; filter 0 on every row).
func pngBytes(width: Int, height: Int, colorType: UInt8, bitDepth: UInt8 = 8, rows: [UInt8],
              palette: [UInt8]? = nil, ihdrOnly: Bool = false) -> [UInt8] {
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        return be32(UInt32(data.count)) + body + be32(crc)
    }
    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    var png: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
    png += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [bitDepth, colorType, 0, 0, 0])
    if !ihdrOnly {
        if let palette { png += chunk("PLTE", palette) }
        let rowBytes = rows.count / height
        var raw: [UInt8] = []
        for y in 0..<height { raw += [0] + rows[(y * rowBytes)..<((y + 1) * rowBytes)] }
        var size = compressBound(UInt(raw.count))
        var packed = [UInt8](repeating: 0, count: Int(size))
        _ = compress(&packed, &size, raw, UInt(raw.count))
        png += chunk("IDAT", Array(packed.prefix(Int(size))))
    }
    png += chunk("IEND", [])
    return png
}

/// An 8-bit RGB PNG of `pixels` (`height × width × 3`).
func rgbPNG(width: Int, height: Int, _ pixels: [UInt8]) -> [UInt8] {
    pngBytes(width: width, height: height, colorType: 2, rows: pixels)
}

/// A deterministic RGB pattern of `height × width × 3` bytes.
func patternPixels(width: Int, height: Int, seed: Int = 0) -> [UInt8] {
    var pixels: [UInt8] = []
    for y in 0..<height {
        for x in 0..<width {
            pixels += [UInt8((x * 37 + y * 11 + seed) % 256), UInt8((x * 5 + y * 29 + 3 * seed) % 256), UInt8((x * y + seed) % 256)]
        }
    }
    return pixels
}
