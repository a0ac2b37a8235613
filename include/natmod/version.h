/*
 * natmod's release version. The one place it is written: CMake reads it for
 * the package version (project(), pkg-config, the CMake package config), the
 * CLI prints it (natmod --version), and firmware can test it at compile time.
 *
 * The formats have versions of their own (NM_FORMAT_VERSION in format.h,
 * NM_STORE_VERSION in store.h, NM_XFER_VERSION in xfer.h, NM_MPY_VERSION in
 * mpy.h): a release changes them only when the bytes change.
 */
#ifndef NATMOD_VERSION_H
#define NATMOD_VERSION_H

#define NM_VERSION_MAJOR 0
#define NM_VERSION_MINOR 9
#define NM_VERSION_PATCH 0

#define NM_VERSION_STR_(a, b, c) #a "." #b "." #c
#define NM_VERSION_STR_X(a, b, c) NM_VERSION_STR_(a, b, c)
/* "0.9.0" */
#define NM_VERSION_STRING NM_VERSION_STR_X(NM_VERSION_MAJOR, NM_VERSION_MINOR, NM_VERSION_PATCH)
/* 0x000900: comparable with <, >= at compile time */
#define NM_VERSION_NUMBER (NM_VERSION_MAJOR << 16 | NM_VERSION_MINOR << 8 | NM_VERSION_PATCH)

#endif
