/// Resize and Upsample, with the ONNX specification's defaults. Upsample and Resize-10 have only
/// `mode`; their coordinates are asymmetric with floor rounding (`legacy`).
public struct ResizeAttributes: Sendable, Equatable {
    public static let defaultMode = "nearest"
    public static let defaultCoordinateTransformation = "half_pixel"
    public static let defaultNearestMode = "round_prefer_floor"
    public static let defaultKeepAspectRatioPolicy = "stretch"
    public static let defaultCubicCoefficient: Float = -0.75
    /// What Upsample and Resize-10 do, having no attributes to say otherwise.
    public static let legacyCoordinateTransformation = "asymmetric"
    public static let legacyNearestMode = "floor"

    /// "nearest", "linear" ("bilinear" for Upsample-7) or "cubic".
    public var mode: String
    public var coordinateTransformation: String
    public var nearestMode: String
    public var antialias: Bool
    public var keepAspectRatioPolicy: String
    /// The `a` of the cubic kernel (cubic_coeff_a).
    public var cubicCoefficient: Float
    /// Cubic taps outside the input get weight 0, the others renormalised (exclude_outside).
    public var excludeOutside: Bool

    /// The node's attributes; with `legacy`, the fixed coordinate rules of Upsample and Resize-10.
    public init(_ node: Node, legacy: Bool) {
        mode = node.string("mode", default: Self.defaultMode)
        coordinateTransformation = legacy ? Self.legacyCoordinateTransformation
            : node.string("coordinate_transformation_mode", default: Self.defaultCoordinateTransformation)
        nearestMode = legacy ? Self.legacyNearestMode : node.string("nearest_mode", default: Self.defaultNearestMode)
        antialias = node.flag("antialias", default: false)
        keepAspectRatioPolicy = node.string("keep_aspect_ratio_policy", default: Self.defaultKeepAspectRatioPolicy)
        cubicCoefficient = node.float("cubic_coeff_a", default: Self.defaultCubicCoefficient)
        excludeOutside = node.flag("exclude_outside", default: false)
    }
}
