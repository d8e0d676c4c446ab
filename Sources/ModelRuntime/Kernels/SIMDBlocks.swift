/// 16 floats: one AVX-512 register when the release build targets a CPU that has them (the
/// default, `-target-cpu native`), two AVX2 registers otherwise.
typealias F16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> F16 { UnsafeRawPointer(p).loadUnaligned(as: F16.self) }
@inline(__always) func store16(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
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
