// The libhdf5 functions modeltool calls, each forwarding to the library opened with dlopen on first
// use (see include/CHDF5.h). The compiler checks every signature here against libhdf5's header.
#include "CHDF5.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

// Every function called from Swift or expanded from libhdf5's macros:
// X(return type, name, parameters, arguments).
#define MT_H5_FUNCTIONS(X) \
    X(herr_t, H5open, (void), ()) \
    X(herr_t, H5check_version, (unsigned a, unsigned b, unsigned c), (a, b, c)) \
    X(herr_t, H5get_libversion, (unsigned *a, unsigned *b, unsigned *c), (a, b, c)) \
    X(herr_t, H5Eset_auto2, (hid_t a, H5E_auto2_t b, void *c), (a, b, c)) \
    X(herr_t, H5Aclose, (hid_t a), (a)) \
    X(hid_t, H5Acreate2, (hid_t a, const char *b, hid_t c, hid_t d, hid_t e, hid_t f), (a, b, c, d, e, f)) \
    X(htri_t, H5Aexists, (hid_t a, const char *b), (a, b)) \
    X(hid_t, H5Aget_space, (hid_t a), (a)) \
    X(hid_t, H5Aget_type, (hid_t a), (a)) \
    X(hid_t, H5Aopen, (hid_t a, const char *b, hid_t c), (a, b, c)) \
    X(herr_t, H5Aread, (hid_t a, hid_t b, void *c), (a, b, c)) \
    X(herr_t, H5Awrite, (hid_t a, hid_t b, const void *c), (a, b, c)) \
    X(herr_t, H5Dclose, (hid_t a), (a)) \
    X(hid_t, H5Dcreate2, (hid_t a, const char *b, hid_t c, hid_t d, hid_t e, hid_t f, hid_t g), (a, b, c, d, e, f, g)) \
    X(hid_t, H5Dget_space, (hid_t a), (a)) \
    X(hid_t, H5Dget_type, (hid_t a), (a)) \
    X(hid_t, H5Dopen2, (hid_t a, const char *b, hid_t c), (a, b, c)) \
    X(herr_t, H5Dread, (hid_t a, hid_t b, hid_t c, hid_t d, hid_t e, void *f), (a, b, c, d, e, f)) \
    X(herr_t, H5Dvlen_reclaim, (hid_t a, hid_t b, hid_t c, void *d), (a, b, c, d)) \
    X(herr_t, H5Dwrite, (hid_t a, hid_t b, hid_t c, hid_t d, hid_t e, const void *f), (a, b, c, d, e, f)) \
    X(herr_t, H5Fclose, (hid_t a), (a)) \
    X(hid_t, H5Fcreate, (const char *a, unsigned b, hid_t c, hid_t d), (a, b, c, d)) \
    X(herr_t, H5Fflush, (hid_t a, H5F_scope_t b), (a, b)) \
    X(herr_t, H5Fget_filesize, (hid_t a, hsize_t *b), (a, b)) \
    X(htri_t, H5Fis_hdf5, (const char *a), (a)) \
    X(hid_t, H5Fopen, (const char *a, unsigned b, hid_t c), (a, b, c)) \
    X(herr_t, H5Gclose, (hid_t a), (a)) \
    X(hid_t, H5Gcreate2, (hid_t a, const char *b, hid_t c, hid_t d, hid_t e), (a, b, c, d, e)) \
    X(herr_t, H5Gget_info, (hid_t a, H5G_info_t *b), (a, b)) \
    X(hid_t, H5Gopen2, (hid_t a, const char *b, hid_t c), (a, b, c)) \
    X(hid_t, H5Iget_file_id, (hid_t a), (a)) \
    X(htri_t, H5Lexists, (hid_t a, const char *b, hid_t c), (a, b, c)) \
    X(ssize_t, H5Lget_name_by_idx, (hid_t a, const char *b, H5_index_t c, H5_iter_order_t d, hsize_t e, char *f, size_t g, hid_t h), (a, b, c, d, e, f, g, h)) \
    X(herr_t, H5Ocopy, (hid_t a, const char *b, hid_t c, const char *d, hid_t e, hid_t f), (a, b, c, d, e, f)) \
    X(herr_t, H5Pclose, (hid_t a), (a)) \
    X(hid_t, H5Pcreate, (hid_t a), (a)) \
    X(herr_t, H5Pset_create_intermediate_group, (hid_t a, unsigned b), (a, b)) \
    X(herr_t, H5Sclose, (hid_t a), (a)) \
    X(hid_t, H5Screate, (H5S_class_t a), (a)) \
    X(hid_t, H5Screate_simple, (int a, const hsize_t b[], const hsize_t c[]), (a, b, c)) \
    X(int, H5Sget_simple_extent_dims, (hid_t a, hsize_t b[], hsize_t c[]), (a, b, c)) \
    X(int, H5Sget_simple_extent_ndims, (hid_t a), (a)) \
    X(hssize_t, H5Sget_simple_extent_npoints, (hid_t a), (a)) \
    X(herr_t, H5Sselect_hyperslab, (hid_t a, H5S_seloper_t b, const hsize_t c[], const hsize_t d[], const hsize_t e[], const hsize_t f[]), (a, b, c, d, e, f)) \
    X(herr_t, H5Tclose, (hid_t a), (a)) \
    X(hid_t, H5Tcopy, (hid_t a), (a)) \
    X(H5T_class_t, H5Tget_class, (hid_t a), (a)) \
    X(H5T_cset_t, H5Tget_cset, (hid_t a), (a)) \
    X(H5T_sign_t, H5Tget_sign, (hid_t a), (a)) \
    X(size_t, H5Tget_size, (hid_t a), (a)) \
    X(htri_t, H5Tis_variable_str, (hid_t a), (a)) \
    X(herr_t, H5Tset_cset, (hid_t a, H5T_cset_t b), (a, b)) \
    X(herr_t, H5Tset_size, (hid_t a, size_t b), (a, b))

// The library's global ids behind the type and property-list macros used below.
#define MT_H5_GLOBALS(X) \
    X(H5T_NATIVE_FLOAT_g) X(H5T_NATIVE_DOUBLE_g) X(H5T_NATIVE_UINT8_g) X(H5T_NATIVE_INT16_g) \
    X(H5T_C_S1_g) X(H5T_IEEE_F32LE_g) X(H5T_IEEE_F64LE_g) X(H5P_CLS_LINK_CREATE_ID_g)

#define MT_POINTER(ret, name, params, args) static ret (*mt_p_##name) params;
MT_H5_FUNCTIONS(MT_POINTER)
#define MT_GLOBAL_POINTER(name) static hid_t *mt_g_##name;
MT_H5_GLOBALS(MT_GLOBAL_POINTER)

// Sonames of the libhdf5 releases whose API this file uses (1.10: 103, 1.12: 200, 1.14: 310), then
// the development symlinks. MODELTOOL_LIBHDF5 names a library file to use instead.
static const char *const mt_candidates[] = {
    "libhdf5_serial.so.103", "libhdf5.so.103", "libhdf5_serial.so.200", "libhdf5.so.200",
    "libhdf5_serial.so.310", "libhdf5.so.310", "libhdf5_serial.so", "libhdf5.so",
};

static pthread_once_t mt_once = PTHREAD_ONCE_INIT;
static char mt_error[512];
static int mt_loaded;

static void mt_load(void) {
    void *handle = NULL;
    const char *chosen = getenv("MODELTOOL_LIBHDF5");
    static char names[256];
    const int named = chosen && *chosen;
    if (named) {
        handle = dlopen(chosen, RTLD_NOW | RTLD_LOCAL);
    } else {
        size_t used = 0;
        for (size_t k = 0; !handle && k < sizeof mt_candidates / sizeof *mt_candidates; k++) {
            handle = dlopen(mt_candidates[k], RTLD_NOW | RTLD_LOCAL);
            chosen = mt_candidates[k];
            int n = snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "", chosen);
            if (n > 0 && (size_t)n < sizeof names - used) used += (size_t)n;
        }
    }
    if (!handle) {
        const char *why = dlerror();
        if (named)
            snprintf(mt_error, sizeof mt_error, "MODELTOOL_LIBHDF5 cannot be opened: %s", why ? why : chosen);
        else
            snprintf(mt_error, sizeof mt_error,
                     "HDF5 files need libhdf5 %d.%d, which was not found (tried %s); on Debian install libhdf5-dev, or set MODELTOOL_LIBHDF5 to the library's file",
                     H5_VERS_MAJOR, H5_VERS_MINOR, names);
        return;
    }
    const char *missing = NULL;
#define MT_RESOLVE(ret, name, params, args) \
    if (!missing && !(*(void **)&mt_p_##name = dlsym(handle, #name))) missing = #name;
    MT_H5_FUNCTIONS(MT_RESOLVE)
#define MT_RESOLVE_GLOBAL(name) \
    if (!missing && !(mt_g_##name = (hid_t *)dlsym(handle, #name))) missing = #name;
    MT_H5_GLOBALS(MT_RESOLVE_GLOBAL)
    if (missing) {
        snprintf(mt_error, sizeof mt_error, "%s lacks %s; modeltool was built against libhdf5 %d.%d.%d",
                 chosen, missing, H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE);
        dlclose(handle);
        return;
    }
    // libhdf5 aborts the process when its version differs from the header's (H5check_version):
    // refuse such a library here with a message instead.
    unsigned major = 0, minor = 0, release = 0;
    if (mt_p_H5get_libversion(&major, &minor, &release) < 0 || major != H5_VERS_MAJOR || minor != H5_VERS_MINOR ||
        release != H5_VERS_RELEASE) {
        snprintf(mt_error, sizeof mt_error, "%s is libhdf5 %u.%u.%u, but modeltool was built against %d.%d.%d; rebuild it or set MODELTOOL_LIBHDF5",
                 chosen, major, minor, release, H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE);
        return;
    }
    // No automatic error-stack printing: every caller turns a failure into its own message.
    mt_p_H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    __atomic_store_n(&mt_loaded, 1, __ATOMIC_RELEASE);
}

const char *mt_h5_load_error(void) {
    pthread_once(&mt_once, mt_load);
    return __atomic_load_n(&mt_loaded, __ATOMIC_ACQUIRE) ? NULL : mt_error;
}

static inline void mt_require(void) {
    if (__builtin_expect(__atomic_load_n(&mt_loaded, __ATOMIC_ACQUIRE), 1)) return;
    const char *error = mt_h5_load_error();
    if (error) {
        fprintf(stderr, "modeltool: %s\n", error);
        abort();
    }
}

#define MT_FORWARD(ret, name, params, args) \
    ret name params { mt_require(); return mt_p_##name args; }
MT_H5_FUNCTIONS(MT_FORWARD)

// The header's macros name these globals; past this point each one reads through its pointer.
#define H5T_NATIVE_FLOAT_g (*mt_g_H5T_NATIVE_FLOAT_g)
#define H5T_NATIVE_DOUBLE_g (*mt_g_H5T_NATIVE_DOUBLE_g)
#define H5T_NATIVE_UINT8_g (*mt_g_H5T_NATIVE_UINT8_g)
#define H5T_NATIVE_INT16_g (*mt_g_H5T_NATIVE_INT16_g)
#define H5T_C_S1_g (*mt_g_H5T_C_S1_g)
#define H5T_IEEE_F32LE_g (*mt_g_H5T_IEEE_F32LE_g)
#define H5T_IEEE_F64LE_g (*mt_g_H5T_IEEE_F64LE_g)
#define H5P_CLS_LINK_CREATE_ID_g (*mt_g_H5P_CLS_LINK_CREATE_ID_g)

// Each macro first calls H5open (through its forwarder, which opens the library).
hid_t mt_h5t_native_float(void) { mt_require(); return H5T_NATIVE_FLOAT; }
hid_t mt_h5t_native_double(void) { mt_require(); return H5T_NATIVE_DOUBLE; }
hid_t mt_h5t_native_uint8(void) { mt_require(); return H5T_NATIVE_UINT8; }
hid_t mt_h5t_native_int16(void) { mt_require(); return H5T_NATIVE_INT16; }
hid_t mt_h5t_c_s1(void) { mt_require(); return H5T_C_S1; }
hid_t mt_h5t_ieee_f32le(void) { mt_require(); return H5T_IEEE_F32LE; }
hid_t mt_h5t_ieee_f64le(void) { mt_require(); return H5T_IEEE_F64LE; }
hid_t mt_h5p_link_create(void) { mt_require(); return H5P_LINK_CREATE; }
hid_t mt_h5p_default(void) { return H5P_DEFAULT; }
hid_t mt_h5s_all(void) { return H5S_ALL; }
unsigned mt_h5f_acc_rdonly(void) { mt_require(); return H5F_ACC_RDONLY; }
unsigned mt_h5f_acc_trunc(void) { mt_require(); return H5F_ACC_TRUNC; }
unsigned mt_h5f_acc_excl(void) { mt_require(); return H5F_ACC_EXCL; }
size_t mt_h5t_variable(void) { return H5T_VARIABLE; }
