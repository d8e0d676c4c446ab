import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS's choice of kernels. Debian's OpenBLAS (0.3.21, built for every x86-64 core with
/// DYNAMIC_ARCH) picks its kernels from the CPU model, and on CPUs it does not know, such as a
/// virtual machine's "Intel Xeon Processor" with AVX-512, it falls back to its SSE3 "Prescott"
/// kernels: sgemm then runs several times below the machine's peak. When that happened and the
/// user has not chosen (OPENBLAS_CORETYPE), the kernels are chosen again from the CPU's features,
/// before the first BLAS call: SkylakeX with AVX-512, Haswell with AVX2 and FMA.
enum BLASKernels {
    /// The core name OpenBLAS uses after `select()`.
    static var coreName: String {
        select()
        return openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    /// Runs the selection once; cheap afterwards.
    @inline(__always)
    static func select() { _ = selected }

    private static let selected: Bool = {
        guard getenv("OPENBLAS_CORETYPE") == nil, let name = openblas_get_corename().map({ String(cString: $0) }),
              name.lowercased() == "prescott" else { return false }
        let core: String
        if modeltool_cpu_supports_avx512() != 0 {
            core = "SkylakeX"
        } else if modeltool_cpu_supports_avx2_fma() != 0 {
            core = "Haswell"
        } else {
            return false
        }
        // Only DYNAMIC_ARCH builds have these; looked up so that other builds still link.
        typealias Hook = @convention(c) () -> Void
        guard let quit = dlsym(nil, "gotoblas_dynamic_quit"), let initialise = dlsym(nil, "gotoblas_dynamic_init") else {
            return false
        }
        setenv("OPENBLAS_CORETYPE", core, 1)
        unsafeBitCast(quit, to: Hook.self)()
        unsafeBitCast(initialise, to: Hook.self)()
        unsetenv("OPENBLAS_CORETYPE")
        return true
    }()
}
