import CBLAS

/// 16 floats: one AVX-512 register when the release build targets a CPU that has them (the
/// default, `-target-cpu native`), two AVX2 registers otherwise.
typealias F16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> F16 { UnsafeRawPointer(p).loadUnaligned(as: F16.self) }
@inline(__always) func store16(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
}

/// The register tiles' sizes for the vector registers the build targets. With AVX-512 (32
/// registers of 16 floats) a tile holds up to 24 accumulators. With AVX2 (16 registers of 8
/// floats, where an `F16` takes two) a tile of 6 accumulators, 12 registers, leaves the rest for
/// the weights and the broadcast input; larger tiles spilled accumulators to the stack, and a
/// spilled accumulator puts a store and a reload into every step of its sum (ResNet-18 ran at
/// half onnxruntime's speed on a Zen 4 whose AVX-512 a virtual machine hides). Every width
/// compiles; these only choose among them at run time. Measured in docs/PERFORMANCE.md (sixth
/// round).
struct Tiles: Sendable {
    /// `BlockedConvolution`: the most outputs per piece of a row for 1–4 channel vectors
    /// (index 0 unused), and the most vectors per tile.
    let blockedPieces: [Int], blockedVectors: Int
    /// `BlockedConvolution`'s depthwise tile: the most outputs per piece.
    let depthwisePieces: Int
    /// `DirectConvolution`'s grid path: the most vectors of 16 positions per block of 4 channels.
    let gridVectors: Int
    /// `DirectConvolution`'s by-channels path: the most channel vectors per group, and the
    /// accumulators a tile may hold (its outputs per piece: these over its vectors, at most 12).
    let channelVectors: Int, channelAccumulators: Int

    func channelPieces(_ vectors: Int) -> Int { min(12, channelAccumulators / vectors) }

    /// AVX-512's sizes.
    static let wide = Tiles(blockedPieces: [0, 12, 10, 7, 6], blockedVectors: 4, depthwisePieces: 8, gridVectors: 6,
                            channelVectors: 4, channelAccumulators: 24)
    /// AVX2's: with one channel vector its 16 channels' weights stay in two registers; 2 × 3 and
    /// 3 × 2 tiles spilled, and 4 × 1 streamed its weights from L2 (one load per product). The
    /// direct kernel's by-channels tile likewise: LeNet's 20 → 50 5×5 convolution in 2 × 3 tiles
    /// ran LeNet at 7,600 img/s, in 1 × 6 tiles at 10,900 (batch 64, 1 thread).
    static let narrow = Tiles(blockedPieces: [0, 6, 2, 1, 1], blockedVectors: 1, depthwisePieces: 5, gridVectors: 1,
                              channelVectors: 1, channelAccumulators: 6)
    /// The sizes new plans take: the build target's. Tests set the other table to run its tiles
    /// (correct on any CPU, only slower where they spill), before they make the plans.
    nonisolated(unsafe) static var current: Tiles = modeltool_wide_registers() != 0 ? .wide : .narrow
}

/// 4 × 4 accumulators of 16 floats; after specialisation and unrolling they live in registers.
struct Accumulators {
    var v: (F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F16) =
        (F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16())
}

/// 24 accumulators of 16 floats for `DirectConvolution.channelBlock` and `BlockedConvolution`.
struct Accumulators24 {
    var v: (Accumulators, F16, F16, F16, F16, F16, F16, F16, F16) = (Accumulators(), F16(), F16(), F16(), F16(), F16(), F16(), F16(), F16())
}

/// A compile-time count for the register blocks of `DirectConvolution` and `PhasePlanes`.
protocol VectorCount { static var count: Int { get } }
enum One: VectorCount { static var count: Int { 1 } }
enum Two: VectorCount { static var count: Int { 2 } }
enum Three: VectorCount { static var count: Int { 3 } }
enum Four: VectorCount { static var count: Int { 4 } }
enum Five: VectorCount { static var count: Int { 5 } }
enum Six: VectorCount { static var count: Int { 6 } }
enum Seven: VectorCount { static var count: Int { 7 } }
enum Eight: VectorCount { static var count: Int { 8 } }
enum Nine: VectorCount { static var count: Int { 9 } }
enum Ten: VectorCount { static var count: Int { 10 } }
enum Eleven: VectorCount { static var count: Int { 11 } }
enum Twelve: VectorCount { static var count: Int { 12 } }
