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
