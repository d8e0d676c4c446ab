// libhdf5 for Swift, opened only when a file needs it.
//
// The declarations are libhdf5's own header's. The definitions come from loader.c: each function
// Swift calls forwards to libhdf5, which is opened with dlopen on first use instead of being linked.
// Linked, libhdf5 and the 31 libraries it pulls in (curl, OpenSSL, Kerberos, LDAP ...) were loaded
// and relocated by every command, ONNX ones included: about 4 ms of each process's start.
//
// libhdf5's type and property-list "constants" are macros that expand to function calls or
// globals Swift cannot import; the mt_h5 functions below give Swift a name for each.
#ifndef MODELTOOL_CHDF5_H
#define MODELTOOL_CHDF5_H
#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>  // Debian and Ubuntu (libhdf5-dev)
#else
#include <hdf5.h>
#endif

/// NULL once libhdf5 is open (opening it on the first call, with its automatic error-stack
/// printing turned off), otherwise why it cannot be: no library found, or one of another version
/// than the header modeltool was built with. Call before the first HDF5 function; any of them
/// called without the library prints this and aborts.
const char *mt_h5_load_error(void);

hid_t mt_h5t_native_float(void);
hid_t mt_h5t_native_double(void);
hid_t mt_h5t_native_uint8(void);
hid_t mt_h5t_native_int16(void);
hid_t mt_h5t_c_s1(void);
hid_t mt_h5t_ieee_f32le(void);
hid_t mt_h5t_ieee_f64le(void);
hid_t mt_h5p_default(void);
hid_t mt_h5s_all(void);
unsigned mt_h5f_acc_rdonly(void);
unsigned mt_h5f_acc_trunc(void);
unsigned mt_h5f_acc_excl(void);
size_t mt_h5t_variable(void);
/// Property-list class for link creation (used to create intermediate groups of a path).
hid_t mt_h5p_link_create(void);

#endif
