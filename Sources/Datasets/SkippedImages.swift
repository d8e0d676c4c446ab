import Foundation

/// The unreadable images an image folder left out under `--skip-bad`, in sample order.
///
/// One log can serve every folder a command opens (trim opens its data once per round): a file
/// is recorded once however often it is met. Thread-safe; compared by identity.
public final class SkippedImages: @unchecked Sendable, Equatable {
    /// A left-out file and why (the one-line error its decoding gave).
    public struct Entry: Codable, Equatable, Sendable {
        public var file: String
        public var error: String
    }

    private let lock = NSLock()
    private var list: [Entry] = []
    private var seen: Set<String> = []

    public init() {}

    /// Every file left out so far, in the order met.
    public var entries: [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }

    func record(file: String, error: String) {
        lock.lock()
        defer { lock.unlock() }
        if seen.insert(file).inserted { list.append(Entry(file: file, error: error)) }
    }

    public static func == (a: SkippedImages, b: SkippedImages) -> Bool { a === b }
}

/// Decodes every file once on `threads` threads (after checking its declared size, also as
/// `transform` resizes it) and splits them into the readable ones and the
/// failures (index into `files`, message), both in file order. Used by `--skip-bad`: a bad file
/// is dropped before the samples are counted, so every count, label and batch stays consistent.
func partitionReadable(_ files: [String], transform: ImageTransform, threads: Int) -> (good: [Int], bad: [(Int, String)]) {
    var messages = [String?](repeating: nil, count: files.count)
    messages.withUnsafeMutableBufferPointer { out in
        let base = out.baseAddress!
        let workers = max(1, min(threads, files.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            while i < files.count {
                do {
                    // The header and the resized size first, so a bomb is refused before decoding.
                    let size = try imageDimensions(path: files[i])
                    _ = try transform.checkedOutputSize(height: size.height, width: size.width, name: files[i])
                    _ = try decodeImage(path: files[i])
                } catch let error as DatasetError {
                    base[i] = error.message
                } catch {
                    base[i] = "\(files[i]): \(error)"
                }
                i += workers
            }
        }
    }
    var good: [Int] = [], bad: [(Int, String)] = []
    for (i, message) in messages.enumerated() {
        if let message { bad.append((i, message)) } else { good.append(i) }
    }
    return (good, bad)
}
