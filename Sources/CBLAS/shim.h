#ifndef MODELTOOL_CBLAS_SHIM_H
#define MODELTOOL_CBLAS_SHIM_H
#include <cblas.h>
// OpenBLAS's thread control; declared in its cblas.h, repeated here so the module names it.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
