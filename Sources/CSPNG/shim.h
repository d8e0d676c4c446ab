#ifndef MODELTOOL_CSPNG_SHIM_H
#define MODELTOOL_CSPNG_SHIM_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <spng.h>
#endif
