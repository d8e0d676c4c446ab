/// The preprocessing of well-known model families, as their libraries define it. Explicit
/// options (scale, mean, std, resize, crop, colour) override a preset's values.
public enum PreprocessingPreset: String, CaseIterable, Sendable {
    /// torchvision's ImageNet evaluation: Resize(256) bilinear with antialiasing, CenterCrop(224),
    /// RGB, ToTensor (/255), Normalize(mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)).
    case torchvision
    /// Keras `imagenet_utils.preprocess_input(mode="caffe")`: BGR, minus 103.939 / 116.779 / 123.68, no scaling.
    case kerasCaffe = "keras-caffe"
    /// Keras `mode="tf"`: x / 127.5 - 1, to [-1, 1].
    case kerasTF = "keras-tf"
    /// Keras `mode="torch"`: x / 255, then the ImageNet mean and std, RGB.
    case kerasTorch = "keras-torch"

    static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    /// The preset as a preprocessing (channels first).
    public var preprocessing: Preprocessing {
        switch self {
        case .torchvision:
            var p = Preprocessing(scale: 1 / 255, mean: Self.imagenetMean, std: Self.imagenetStd)
            p.images.transform = ImageTransform(resize: .shorterSide(256), crop: 224, interpolation: .bilinear, color: .rgb)
            return p
        case .kerasCaffe:
            var p = Preprocessing(mean: [103.939, 116.779, 123.68])
            p.images.transform.color = .bgr
            return p
        case .kerasTF:
            return Preprocessing(scale: 1 / 127.5, mean: [1])
        case .kerasTorch:
            return Preprocessing(scale: 1 / 255, mean: Self.imagenetMean, std: Self.imagenetStd)
        }
    }
}
