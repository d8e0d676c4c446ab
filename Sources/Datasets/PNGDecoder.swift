import CSPNG

/// Decodes one PNG through libspng: every colour type and bit depth, to 8-bit RGB (grayscale
/// replicated, palette expanded, alpha dropped without compositing, 16-bit reduced to the high
/// byte), as Pillow's `convert("RGB")` gives for 8-bit files. Gamma chunks are ignored, as Pillow does.
/// Owns one libspng context, freed in `deinit`.
final class PNGDecoder {
    private let context: OpaquePointer
    private let name: String
    /// The file's bytes; libspng reads them in place, so they live as long as the context.
    private let bytes: UnsafeMutableBufferPointer<UInt8>

    init(_ data: [UInt8], name: String) throws {
        guard let context = spng_ctx_new(0) else { throw DatasetError(name, "libspng cannot create a context") }
        self.context = context
        self.name = name
        bytes = .allocate(capacity: max(1, data.count))
        _ = bytes.initialize(from: data)
        // Ancillary chunks (text, ICC profiles) are bounded so a hostile file cannot make libspng
        // cache gigabytes of them.
        spng_set_chunk_limits(context, 16 << 20, 64 << 20)
        try check(spng_set_png_buffer(context, bytes.baseAddress, data.count))
    }

    deinit {
        spng_ctx_free(context)
        bytes.deallocate()
    }

    private func check(_ status: Int32) throws {
        guard status == 0 else {
            throw DatasetError(name, "is not a readable PNG (\(String(cString: spng_strerror(status))))")
        }
    }

    /// The header's width and height, checked against the decompression-bomb limit.
    func dimensions() throws -> (width: Int, height: Int) {
        var header = spng_ihdr()
        try check(spng_get_ihdr(context, &header))
        try checkImageSize(width: Int(header.width), height: Int(header.height), name: name)
        return (Int(header.width), Int(header.height))
    }

    /// Decodes the whole image to 8-bit RGB.
    func decode() throws -> DecodedImage {
        let (width, height) = try dimensions()
        let format = Int32(SPNG_FMT_RGB8.rawValue)
        var size = 0
        try check(spng_decoded_image_size(context, format, &size))
        guard size == width * height * 3 else {
            throw DatasetError(name, "libspng reports \(size) bytes for a \(width)x\(height) RGB image")
        }
        var pixels = [UInt8](repeating: 0, count: size)
        try pixels.withUnsafeMutableBytes { try check(spng_decode_image(context, $0.baseAddress, size, format, 0)) }
        return DecodedImage(width: width, height: height, pixels: pixels)
    }
}
