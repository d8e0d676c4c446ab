import CTurboJPEG

/// Decodes JPEG (baseline and progressive) through libjpeg-turbo's TurboJPEG API, with the
/// accurate integer IDCT and fancy upsampling that Pillow's libjpeg uses by default.
/// Owns one decompressor handle, freed in `deinit`; not thread-safe (one per thread).
final class JPEGDecoder {
    private let handle: tjhandle

    init() throws {
        guard let handle = tjInitDecompress() else {
            throw DatasetError("libjpeg-turbo", "cannot create a decompressor")
        }
        self.handle = handle
    }

    deinit { tjDestroy(handle) }

    private func failure(_ name: String) -> DatasetError {
        let text = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
        return DatasetError(name, "is not a readable JPEG (\(text))")
    }

    /// The header's width and height, checked against the decompression-bomb limit.
    func dimensions(_ bytes: [UInt8], name: String) throws -> (width: Int, height: Int) {
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let status = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt($0.count), &width, &height, &subsampling, &colorspace)
        }
        guard status == 0 else { throw failure(name) }
        try checkImageSize(width: Int(width), height: Int(height), name: name)
        return (Int(width), Int(height))
    }

    /// Decodes to 8-bit RGB; a grayscale JPEG is replicated into the three channels.
    func decode(_ bytes: [UInt8], name: String) throws -> DecodedImage {
        let (width, height) = try dimensions(bytes, name: name)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        // TJFLAG_LIMITSCANS refuses progressive files with absurd scan counts (a CPU bomb).
        let flags = Int32(TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS | TJFLAG_STOPONWARNING)
        let status = bytes.withUnsafeBufferPointer { input in
            pixels.withUnsafeMutableBufferPointer { output in
                tjDecompress2(handle, input.baseAddress, UInt(input.count), output.baseAddress, Int32(width), 0,
                              Int32(height), Int32(TJPF_RGB.rawValue), flags)
            }
        }
        // A warning (e.g. a truncated file whose missing part is filled grey) is an error here:
        // a silently damaged image would skew the statistics.
        guard status == 0 else { throw failure(name) }
        return DecodedImage(width: width, height: height, pixels: pixels)
    }
}
