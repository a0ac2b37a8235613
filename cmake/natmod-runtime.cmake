# natmod-runtime.cmake: the freestanding runtime's sources, for any build.
#
# natmod's own build includes this file from the source tree; `cmake
# --install` copies it, with the sources it names, to
# <prefix>/share/natmod/runtime/cmake/, so a firmware's (cross) build can use
# the same lists:
#
#   include(<prefix>/share/natmod/runtime/cmake/natmod-runtime.cmake)
#   natmod_add_runtime(natmod_runtime)              # a static library, or
#   target_sources(fw PRIVATE ${NATMOD_LOADER_SOURCES} ${NATMOD_FORMAT_SOURCES})
#   target_include_directories(fw PRIVATE ${NATMOD_RUNTIME_INCLUDE_DIRS}
#                                         ${NATMOD_RUNTIME_PRIVATE_INCLUDE_DIRS})
#
# or add_subdirectory(<prefix>/share/natmod/runtime natmod) for the target
# natmod::runtime. Every file named here is freestanding C11: no malloc, no
# stdio, nothing from libc beyond memcpy and memset (asi2c.h uses
# <stdatomic.h>). The parts, each with the ones it needs:
#   FORMAT  .nmod reader, CRC-32, error details          (docs/format.md)
#   LOADER  verify, resolve, place, relocate, XIP,        + FORMAT (docs/xip.md)
#           SHA-512 and Ed25519 signature verification            (docs/trust.md)
#   STORE   the flash module store                        + LOADER (docs/store.md)
#   VMAP    the virtual address map manager               (docs/vmap.md)
#   ASI2C   the asi2c link core, both roles               + FORMAT (docs/asi2c.md)
#   XFER    module install over a byte stream             + ASI2C, STORE
get_filename_component(NATMOD_RUNTIME_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

set(NATMOD_FORMAT_SOURCES
    ${NATMOD_RUNTIME_ROOT}/src/format/crc32.c
    ${NATMOD_RUNTIME_ROOT}/src/format/read.c
    ${NATMOD_RUNTIME_ROOT}/src/format/universal.c
    ${NATMOD_RUNTIME_ROOT}/src/format/detail.c)
set(NATMOD_LOADER_SOURCES
    ${NATMOD_RUNTIME_ROOT}/src/loader/verify.c
    ${NATMOD_RUNTIME_ROOT}/src/loader/resolve.c
    ${NATMOD_RUNTIME_ROOT}/src/loader/place.c
    ${NATMOD_RUNTIME_ROOT}/src/loader/reloc.c
    ${NATMOD_RUNTIME_ROOT}/src/loader/loader.c
    ${NATMOD_RUNTIME_ROOT}/src/loader/xip.c
    ${NATMOD_RUNTIME_ROOT}/src/loader/trust.c
    ${NATMOD_RUNTIME_ROOT}/src/loader/sha512.c
    ${NATMOD_RUNTIME_ROOT}/src/loader/ed25519.c)
set(NATMOD_STORE_SOURCES ${NATMOD_RUNTIME_ROOT}/src/store/store.c)
set(NATMOD_VMAP_SOURCES ${NATMOD_RUNTIME_ROOT}/src/vmap/vmap.c)
set(NATMOD_ASI2C_SOURCES ${NATMOD_RUNTIME_ROOT}/src/asi2c/asi2c.c)
set(NATMOD_XFER_SOURCES ${NATMOD_RUNTIME_ROOT}/src/asi2c/xfer.c)
# Headers the sources include besides the public ones.
set(NATMOD_RUNTIME_PRIVATE_HEADERS
    ${NATMOD_RUNTIME_ROOT}/src/format/format_internal.h
    ${NATMOD_RUNTIME_ROOT}/src/loader/loader_internal.h)

set(NATMOD_RUNTIME_SOURCES
    ${NATMOD_FORMAT_SOURCES} ${NATMOD_LOADER_SOURCES} ${NATMOD_STORE_SOURCES}
    ${NATMOD_VMAP_SOURCES} ${NATMOD_ASI2C_SOURCES} ${NATMOD_XFER_SOURCES})
set(NATMOD_RUNTIME_INCLUDE_DIRS ${NATMOD_RUNTIME_ROOT}/include)
set(NATMOD_RUNTIME_PRIVATE_INCLUDE_DIRS ${NATMOD_RUNTIME_ROOT}/src)

# natmod_add_runtime(NAME): a static library of the whole runtime, built
# with the calling project's compiler and flags. Its users see the public
# headers (include/natmod/...) only.
function(natmod_add_runtime name)
  add_library(${name} STATIC ${NATMOD_RUNTIME_SOURCES})
  target_include_directories(${name}
    PUBLIC $<BUILD_INTERFACE:${NATMOD_RUNTIME_INCLUDE_DIRS}>
    PRIVATE ${NATMOD_RUNTIME_PRIVATE_INCLUDE_DIRS})
  target_compile_features(${name} PUBLIC c_std_11)
endfunction()
