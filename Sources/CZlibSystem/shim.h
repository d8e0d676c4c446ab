#ifndef MODELTOOL_CZLIB_SHIM_H
#define MODELTOOL_CZLIB_SHIM_H
#include <zlib.h>
#endif
