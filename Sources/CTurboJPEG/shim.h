#ifndef MODELTOOL_CTURBOJPEG_SHIM_H
#define MODELTOOL_CTURBOJPEG_SHIM_H
#include <stddef.h>
#include <turbojpeg.h>
#endif
