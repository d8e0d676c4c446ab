import ArgumentParser
import Datasets

/// How a folder of class subfolders of JPEG/PNG images is read; shared by run, eval, apoz, trim
/// and finetune (through `DataOptions`, or directly in trim).
struct ImageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Preprocessing of a model family: torchvision, keras-caffe, keras-tf or keras-torch; the other options override its values.",
                               valueName: "name"))
    var preset: PreprocessingPreset?
    @Option(help: ArgumentHelp("Image folders: resize the shorter side to N, or to exactly HxW.", valueName: "N|HxW"))
    var resize: String?
    @Option(help: ArgumentHelp("Image folders: centre crop to N×N after resizing.", valueName: "N")) var crop: Int?
    @Option(help: "Image folders: bilinear, bicubic or nearest (antialiased when shrinking, as Pillow does).")
    var interpolation: ImageTransform.Interpolation?
    @Option(help: "Image folders: rgb, bgr or gray.") var color: ImageTransform.Color?
    @Option(help: ArgumentHelp("Image folders: class names, one per line (line i is class i), instead of the sorted folder names.",
                               valueName: "classes.txt"))
    var classes: String?
    @Flag(help: "Image folders: leave out unreadable, truncated or corrupt images (each is decoded once when the folder is opened), report them and go on.")
    var skipBad = false

    func validate() throws {
        _ = try size()
        if let crop, crop <= 0 { throw ValidationError("--crop must be positive") }
    }

    /// --resize as a size.
    func size() throws -> ImageTransform.Size? {
        guard let resize else { return nil }
        let parts = resize.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        switch parts.count {
        case 1: if let n = parts[0], n > 0 { return .shorterSide(n) }
        case 2: if let h = parts[0], let w = parts[1], h > 0, w > 0 { return .exact(height: h, width: w) }
        default: break
        }
        throw ValidationError("--resize takes N (the shorter side) or HxW with positive numbers, got '\(resize)'")
    }

    /// The preset's preprocessing (or none) with these options applied over it.
    func apply(threads: Int?) -> Preprocessing {
        var p = preset?.preprocessing ?? Preprocessing()
        var transform = p.images.transform
        if let size = try? size() { transform.resize = size }
        if let crop { transform.crop = crop }
        if let interpolation { transform.interpolation = interpolation }
        if let color { transform.color = color }
        p.images = ImageFolderOptions(transform: transform, classesFile: classes, threads: threads,
                                      skipBad: skipBad ? skippedImages : nil)
        return p
    }
}

/// The images `--skip-bad` left out during this run of the CLI (one process, one command); the
/// command's output reports them (`reportSkippedImages`, and `skippedImages` in `--json`).
let skippedImages = SkippedImages()

extension PreprocessingPreset: ExpressibleByArgument {}
extension ImageTransform.Interpolation: ExpressibleByArgument {}
extension ImageTransform.Color: ExpressibleByArgument {}
