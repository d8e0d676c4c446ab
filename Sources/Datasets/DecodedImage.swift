/// An 8-bit RGB image as the decoders deliver it: rows top to bottom, pixels interleaved R, G, B.
struct DecodedImage {
    let width: Int
    let height: Int
    /// `width * height * 3` bytes.
    var pixels: [UInt8]
}

/// The most pixels an image may declare: Pillow's decompression-bomb error threshold
/// (2 × `Image.MAX_IMAGE_PIXELS`). Checked on the header, before any pixel buffer is allocated.
let maxImagePixels = 178_956_970

/// Throws unless `width × height` is a plausible image size.
func checkImageSize(width: Int, height: Int, name: String) throws {
    guard width > 0, height > 0 else {
        throw DatasetError(name, "declares an empty image (\(width)x\(height))")
    }
    guard width <= maxImagePixels / height else {
        throw DatasetError(name, "declares \(width)x\(height) pixels, more than the limit of \(maxImagePixels) (a decompression bomb?)")
    }
}

/// The image file kinds the decoders read, recognised by their first bytes.
enum ImageKind {
    case jpeg, png

    init?(magic: [UInt8]) {
        if magic.starts(with: [0xff, 0xd8, 0xff]) { self = .jpeg }
        else if magic.starts(with: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) { self = .png }
        else { return nil }
    }
}

/// The largest image file read into memory for decoding.
let maxImageFileBytes = 1 << 30

/// Reads and decodes a JPEG or PNG file to 8-bit RGB (grayscale replicated, alpha dropped,
/// palettes expanded, 16-bit samples reduced to their high byte). EXIF orientation is ignored.
func decodeImage(path: String) throws -> DecodedImage {
    let bytes = try imageFileBytes(path: path)
    switch ImageKind(magic: Array(bytes.prefix(8))) {
    case .jpeg: return try JPEGDecoder().decode(bytes, name: path)
    case .png: return try PNGDecoder(bytes, name: path).decode()
    case nil: throw DatasetError(path, "is neither a JPEG nor a PNG file")
    }
}

/// The declared width and height of a JPEG or PNG file, read from its header only.
func imageDimensions(path: String) throws -> (width: Int, height: Int) {
    let bytes = try imageFileBytes(path: path)
    switch ImageKind(magic: Array(bytes.prefix(8))) {
    case .jpeg: return try JPEGDecoder().dimensions(bytes, name: path)
    case .png: return try PNGDecoder(bytes, name: path).dimensions()
    case nil: throw DatasetError(path, "is neither a JPEG nor a PNG file")
    }
}

private func imageFileBytes(path: String) throws -> [UInt8] {
    let file = try RandomAccessFile(path: path)
    guard file.size <= maxImageFileBytes else {
        throw DatasetError(path, "is \(file.size) bytes, more than the \(maxImageFileBytes >> 20) MiB an image may have")
    }
    return try file.bytes(at: 0, count: file.size)
}
