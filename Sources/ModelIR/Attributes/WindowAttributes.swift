/// The sliding-window attributes of Conv, ConvTranspose, MaxPool and AveragePool, with the ONNX
/// specification's defaults. The runtime, shape inference, the profile, the Keras mapping and
/// the gradients decode them here, so that no default is written twice. Lists are kept as the
/// node gives them (nil when absent); `strides(rank:)` and its siblings fill in the defaults.
public struct WindowAttributes: Sendable, Equatable {
    /// How padding is chosen: from `pads` (NOTSET), none (VALID), or so that the output size is
    /// ceil(input / stride) with the odd pad at the end (SAME_UPPER) or the beginning (SAME_LOWER).
    public enum AutoPad: String, Sendable, Equatable {
        case notSet = "NOTSET", sameUpper = "SAME_UPPER", sameLower = "SAME_LOWER", valid = "VALID"

        /// SAME_UPPER or SAME_LOWER.
        public var isSame: Bool { self == .sameUpper || self == .sameLower }
    }

    public static let defaultStride = 1
    public static let defaultDilation = 1
    public static let defaultPad = 0
    public static let defaultOutputPadding = 0
    public static let defaultAutoPad = AutoPad.notSet

    /// The window's spatial size; required by the pools, otherwise the weight's.
    public var kernelShape: [Int]?
    public var strides: [Int]?
    public var dilations: [Int]?
    /// Begin pads of every spatial axis, then end pads.
    public var pads: [Int]?
    public var autoPad: AutoPad
    /// Pools: output sizes round up, keeping a last partial window.
    public var ceilMode: Bool
    /// AveragePool: padded taps count toward the divisor.
    public var countIncludePad: Bool
    /// MaxPool: indices are column-major (storage_order 1) rather than row-major.
    public var columnMajorIndices: Bool
    /// ConvTranspose: extra size added to the end of each output axis.
    public var outputPadding: [Int]?
    /// ConvTranspose: the output's spatial sizes (or its whole shape), which fix the padding.
    public var outputShape: [Int]?

    /// The node's attributes; throws on an `auto_pad` the specification does not define (an empty
    /// one, as some exporters write, is NOTSET).
    public init(_ node: Node) throws {
        func list(_ name: String) -> [Int]? { node.ints(name)?.map { Int(clamping: $0) } }
        kernelShape = list("kernel_shape")
        strides = list("strides")
        dilations = list("dilations")
        pads = list("pads")
        outputPadding = list("output_padding")
        outputShape = list("output_shape")
        let mode = node.string("auto_pad", default: Self.defaultAutoPad.rawValue)
        guard let a = AutoPad(rawValue: mode.isEmpty ? Self.defaultAutoPad.rawValue : mode) else {
            throw ModelError("unknown auto_pad '\(mode)'")
        }
        autoPad = a
        ceilMode = node.flag("ceil_mode", default: false)
        countIncludePad = node.flag("count_include_pad", default: false)
        columnMajorIndices = node.flag("storage_order", default: false)
    }

    /// `strides`, or the default for each of `rank` spatial axes.
    public func strides(rank: Int) -> [Int] { strides ?? Array(repeating: Self.defaultStride, count: rank) }
    /// `dilations`, or the default for each of `rank` spatial axes.
    public func dilations(rank: Int) -> [Int] { dilations ?? Array(repeating: Self.defaultDilation, count: rank) }
    /// `pads` (begins, then ends), or the default for each of `rank` spatial axes.
    public func pads(rank: Int) -> [Int] { pads ?? Array(repeating: Self.defaultPad, count: 2 * rank) }
    /// `output_padding`, or the default for each of `rank` spatial axes.
    public func outputPadding(rank: Int) -> [Int] {
        outputPadding ?? Array(repeating: Self.defaultOutputPadding, count: rank)
    }
}
