import Foundation

/// How a folder of class subfolders is read; ignored for array files.
public struct ImageFolderOptions: Equatable, Sendable {
    /// Resize, crop and colour of each image.
    public var transform: ImageTransform
    /// A text file with one class name per line: line i (from 0) is class i. Without it the
    /// class folders, sorted, are the classes.
    public var classesFile: String?
    /// Threads decoding the images of a batch (nil: the number of cores).
    public var threads: Int?
    /// `--skip-bad`: nil stops at the first unreadable image with its one-line error; a log
    /// makes the folder decode every image once when opened, leave out the ones that fail and
    /// record them here.
    public var skipBad: SkippedImages?

    public init(transform: ImageTransform = ImageTransform(), classesFile: String? = nil, threads: Int? = nil,
                skipBad: SkippedImages? = nil) {
        self.transform = transform
        self.classesFile = classesFile
        self.threads = threads
        self.skipBad = skipBad
    }
}

/// The image files of a folder with one subfolder per class, as torchvision's `ImageFolder`
/// lists them: classes in sorted order, files (searched recursively) sorted within each class.
/// Each sample is decoded and transformed on read into `[channels, height, width]` with values in
/// 0...255; the class of each sample comes from its folder (see `labels`).
public final class ImageFolderSource: SampleSource {
    public let name: String
    /// The class names; a sample's label is the index of its class here.
    public let classes: [String]
    /// Every image file, in sample order.
    public let files: [String]
    /// The class index of every sample.
    public let labels: [Int]
    public let transform: ImageTransform
    public let sampleShape: [Int]
    private let threads: Int
    /// Training-time random resized crops (nil: the transform's deterministic resize and crop).
    public var randomResizedCrop: RandomResizedCrop? {
        didSet { draws = [Int](repeating: 0, count: randomResizedCrop == nil ? 0 : files.count) }
    }
    /// How many random crops each sample has had.
    private var draws: [Int] = []

    public var count: Int { files.count }
    public var elementDescription: String { "JPEG/PNG images in \(Set(labels).count) class folders" }

    /// Lists `path`'s class folders and reads the first image's header to fix the sample shape.
    public init(path: String, options: ImageFolderOptions = ImageFolderOptions()) throws {
        name = path
        transform = options.transform
        threads = max(1, options.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let folders = try subfolders(of: path).sorted(by: codePointOrder)
        guard !folders.isEmpty else {
            throw DatasetError(path, "has no class folders (expected one subfolder of .jpg/.jpeg/.png images per class)")
        }
        let classes: [String]
        if let classesFile = options.classesFile {
            classes = try readClasses(classesFile)
            let known = Set(classes)
            if let unknown = folders.first(where: { !known.contains($0) }) {
                throw DatasetError(path, "class folder '\(unknown)' is not listed in \(classesFile)")
            }
        } else {
            classes = folders
        }
        // Folders in sorted order whatever the class list says, as torchvision's make_dataset.
        let indexOf = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var files: [String] = [], labels: [Int] = []
        for name in folders {
            let index = indexOf[name]!
            let images = try imageFiles(under: path + "/" + name)
            guard !images.isEmpty else {
                throw DatasetError(path + "/" + name, "class folder has no .jpg, .jpeg or .png images")
            }
            files += images
            labels += Array(repeating: index, count: images.count)
        }
        if let log = options.skipBad {
            // One decode of every file up front (the cost of --skip-bad): dropping a file later,
            // mid-batch, would change the sample count after it was reported.
            let (good, bad) = partitionReadable(files, transform: options.transform,
                                                threads: max(1, options.threads ?? ProcessInfo.processInfo.activeProcessorCount))
            for (i, message) in bad { log.record(file: files[i], error: message) }
            guard !good.isEmpty else {
                throw DatasetError(path, "has no readable images (all \(files.count) were left out by --skip-bad)")
            }
            files = good.map { files[$0] }
            labels = good.map { labels[$0] }
        }
        self.classes = classes
        self.files = files
        self.labels = labels
        let first = try imageDimensions(path: files[0])
        let size = try transform.checkedOutputSize(height: first.height, width: first.width, name: files[0])
        sampleShape = [transform.color.channels, size.height, size.width]
    }

    /// Decodes samples `start ..< start + count`, spreading the images over the decoding threads.
    /// Reads in sequence (each starting where the last ended) get the next batch decoded in the
    /// background meanwhile, so decoding overlaps the model; at most one batch is held ahead.
    public func read(start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws {
        try checkRange(start: start, count: count)
        let sequential = start == lastEnd
        lastEnd = start + count
        if let ahead = pending {
            pending = nil
            ahead.done.wait()
            defer { ahead.buffer.deallocate() }
            if ahead.start == start, ahead.count == count {
                if let error = ahead.error { throw error }
                destination.update(from: ahead.buffer, count: count * sampleElementCount)
                prefetch(start: start + count, count: count)
                return
            }
        }
        try decode(Array(start..<(start + count)), into: destination)
        if sequential { prefetch(start: start + count, count: count) }
    }

    /// Decodes the samples at `indices` (a shuffled batch) in parallel.
    public func read(indices: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        for index in indices { try checkRange(start: index, count: 1) }
        try decode(indices, into: destination)
    }

    deinit {
        // The background decode writes into its own buffer; let it finish before freeing it.
        if let ahead = pending {
            ahead.done.wait()
            ahead.buffer.deallocate()
        }
    }

    /// A batch being decoded ahead of its read.
    private final class Ahead {
        let start: Int, count: Int
        let buffer: UnsafeMutablePointer<Float>
        let done = DispatchGroup()
        var error: Error?

        init(start: Int, count: Int, elements: Int) {
            self.start = start
            self.count = count
            buffer = .allocate(capacity: max(1, count * elements))
        }
    }

    private var pending: Ahead?
    private var lastEnd = 0
    private let background = DispatchQueue(label: "modeltool.images.ahead")

    /// Starts decoding `start ..< start + count` (clipped to the source) in the background.
    private func prefetch(start: Int, count: Int) {
        let count = min(count, self.count - start)
        guard count > 0 else { return }
        let ahead = Ahead(start: start, count: count, elements: sampleElementCount)
        pending = ahead
        ahead.done.enter()
        background.async { [self] in
            do { try decode(Array(start..<(start + count)), into: ahead.buffer) } catch { ahead.error = error }
            ahead.done.leave()
        }
    }

    /// Decodes the samples at `indices` into `destination` on the decoding threads; the first
    /// failure (in the order given) is thrown.
    private func decode(_ indices: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        let count = indices.count
        let size = sampleElementCount
        // Draw numbers are handed out here, in order, so the crops do not depend on the threads.
        var drawNumbers = [Int](repeating: 0, count: count)
        if randomResizedCrop != nil {
            for (k, index) in indices.enumerated() {
                drawNumbers[k] = draws[index]
                draws[index] += 1
            }
        }
        let workers = min(threads, count)
        var failures = [DatasetError?](repeating: nil, count: count)
        let address = UInt(bitPattern: destination)
        failures.withUnsafeMutableBufferPointer { errors in
            let errorsAddress = errors.baseAddress!
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var i = worker
                while i < count {
                    do {
                        let target = UnsafeMutablePointer<Float>(bitPattern: address)! + i * size
                        try decodeSample(indices[i], draw: drawNumbers[i], into: target)
                    } catch let error as DatasetError {
                        errorsAddress[i] = error
                    } catch {
                        errorsAddress[i] = DatasetError(files[indices[i]], "\(error)")
                    }
                    i += workers
                }
            }
        }
        if let failure = failures.first(where: { $0 != nil }) { throw failure! }
    }

    private func decodeSample(_ index: Int, draw: Int, into target: UnsafeMutablePointer<Float>) throws {
        let path = files[index]
        let image = try decodeImage(path: path)
        if let crop = randomResizedCrop {
            let region = crop.region(index: index, draw: draw, height: image.height, width: image.width)
            transform.applyCrop(image, region: region, height: sampleShape[1], width: sampleShape[2], into: target)
            return
        }
        let size = try transform.checkedOutputSize(height: image.height, width: image.width, name: path)
        guard [transform.color.channels, size.height, size.width] == sampleShape else {
            let resized = transform.resize == nil ? "" : " after resizing"
            throw DatasetError(path, "is \(size.width)x\(size.height)\(resized) but \(files[0]) is \(sampleShape[2])x\(sampleShape[1]); use --resize HxW or --crop N to give every image one size")
        }
        transform.apply(image, into: target)
    }

    /// The class labels of the samples as a source of one value each, for batch iterators.
    public var labelSource: SampleSource { ImageFolderLabels(name: name + " (class folders)", labels: labels) }
}

/// The labels of an image folder's samples, one integer per sample.
final class ImageFolderLabels: SampleSource {
    let name: String
    let labels: [Int]
    var count: Int { labels.count }
    var sampleShape: [Int] { [] }
    var elementDescription: String { "class indices from folder names" }

    init(name: String, labels: [Int]) {
        self.name = name
        self.labels = labels
    }

    func read(start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws {
        try checkRange(start: start, count: count)
        for i in 0..<count { destination[i] = Float(labels[start + i]) }
    }
}

/// True when `path` is a folder, which `openSource` reads as an image folder.
public func isImageFolder(_ path: String) -> Bool { isDirectory(path) }

/// Python's `sorted` order for strings: by code point, which UTF-8 byte order preserves.
private func codePointOrder(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

private func isDirectory(_ path: String) -> Bool {
    var flag: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
}

/// The names of the folders directly inside `path` (symbolic links followed, as torchvision does).
private func subfolders(of path: String) throws -> [String] {
    guard isDirectory(path) else { throw DatasetError(path, "is not a folder") }
    let names: [String]
    do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
        throw DatasetError(path, "cannot list the folder (\(error.localizedDescription))")
    }
    return names.filter { isDirectory(path + "/" + $0) }
}

private let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

/// The images in `folder` and its subfolders, in torchvision's order: folders by sorted path
/// (`sorted(os.walk(folder))`), files sorted within a folder.
private func imageFiles(under folder: String) throws -> [String] {
    var listing: [(folder: String, files: [String])] = []
    var visited = Set<String>()
    func walk(_ directory: String) throws {
        // A symbolic link loop would otherwise recurse forever.
        let real = (directory as NSString).resolvingSymlinksInPath
        guard visited.insert(real).inserted else { return }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw DatasetError(directory, "cannot list the folder (\(error.localizedDescription))")
        }
        var files: [String] = []
        for name in names.sorted(by: codePointOrder) {
            let full = directory + "/" + name
            if isDirectory(full) {
                try walk(full)
            } else if let dot = name.lastIndex(of: "."), imageExtensions.contains(name[name.index(after: dot)...].lowercased()) {
                files.append(full)
            }
        }
        listing.append((directory, files))
    }
    try walk(folder)
    return listing.sorted { codePointOrder($0.folder, $1.folder) }.flatMap(\.files)
}

/// Class names, one per line; blank lines at the end are ignored, duplicates refused.
private func readClasses(_ path: String) throws -> [String] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw DatasetError(path, "cannot read the class list (expected UTF-8 text, one class name per line)")
    }
    var names = text.split(separator: "\n", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    while names.last == "" { names.removeLast() }
    guard !names.isEmpty else { throw DatasetError(path, "lists no classes") }
    var seen = Set<String>()
    for (line, name) in names.enumerated() {
        guard !name.isEmpty else { throw DatasetError(path, "line \(line + 1) is empty") }
        guard seen.insert(name).inserted else { throw DatasetError(path, "lists class '\(name)' twice") }
    }
    return names
}
