#ifndef MODELTOOL_CBLAS_SHIM_H
#define MODELTOOL_CBLAS_SHIM_H
#include <cblas.h>
// OpenBLAS's thread control; declared in its cblas.h, repeated here so the module names it.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
// A read prefetch into all cache levels (the blocked convolution fetches the next block of weights
// while it sums the current one).
static inline void modeltool_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
// A spin-wait hint: the worker pool's idle threads and its caller poll with it at first, where a
// sched_yield system call per poll made each hand-off cost microseconds.
static inline void modeltool_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
// 1/x for 16 floats (imported as SIMD16<Float>), for the vector sigmoid: with AVX-512, the
// 14-bit estimate and one Newton step (within 2 ulp of the quotient for 1 <= x < 2^126, where the
// sigmoid uses it, VectorMathTests; +inf gives NaN), three instructions where the division takes
// about ten cycles a vector. Elsewhere the division itself.
typedef float modeltool_float16 __attribute__((ext_vector_type(16)));
#if defined(__AVX512F__)
#include <immintrin.h>
static inline modeltool_float16 modeltool_reciprocal16(modeltool_float16 x) {
    __m512 v = (__m512)x;
    __m512 r = _mm512_rcp14_ps(v);
    __m512 e = _mm512_fnmadd_ps(v, r, _mm512_set1_ps(1.0f));
    return (modeltool_float16)_mm512_fmadd_ps(r, e, r);
}
#else
static inline modeltool_float16 modeltool_reciprocal16(modeltool_float16 x) { return 1.0f / x; }
#endif
// Whether the build targets AVX-512's 32 registers of 16 floats (else AVX2's 16 of 8, where a
// 16-float vector takes two): the convolution kernels size their register tiles from it.
static inline int modeltool_wide_registers(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}
// CPU features, for choosing OpenBLAS's kernels when its own detection fails (`BLASKernels`).
static inline int modeltool_cpu_supports_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
static inline int modeltool_cpu_supports_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif
