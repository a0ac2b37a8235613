# natmod as a MicroPython user C module (CMake ports: esp32, rp2):
#   make USER_C_MODULES=<natmod>/ports/micropython/micropython.cmake
# (or include() it from your own USER_C_MODULES cmake file). docs/micropython.md.
set(NATMOD_TOP ${CMAKE_CURRENT_LIST_DIR}/../..)
set(NATMOD_GEN_DIR ${CMAKE_BINARY_DIR}/natmod)
add_library(usermod_natmod INTERFACE)
target_sources(usermod_natmod INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modnatmod.c
    ${CMAKE_CURRENT_LIST_DIR}/natmod_mp.c
    ${NATMOD_TOP}/src/store/store.c
    ${NATMOD_TOP}/src/loader/loader.c ${NATMOD_TOP}/src/loader/place.c
    ${NATMOD_TOP}/src/loader/reloc.c ${NATMOD_TOP}/src/loader/resolve.c
    ${NATMOD_TOP}/src/loader/verify.c ${NATMOD_TOP}/src/loader/xip.c
    ${NATMOD_TOP}/src/loader/trust.c ${NATMOD_TOP}/src/loader/sha512.c
    ${NATMOD_TOP}/src/loader/ed25519.c
    ${NATMOD_TOP}/src/format/crc32.c ${NATMOD_TOP}/src/format/read.c
    ${NATMOD_TOP}/src/format/detail.c ${NATMOD_TOP}/src/format/universal.c
    ${NATMOD_GEN_DIR}/exports.c)
target_include_directories(usermod_natmod INTERFACE
    ${CMAKE_CURRENT_LIST_DIR} ${NATMOD_TOP}/include ${NATMOD_TOP}/src)
# The export table, from the sources that mark exports (NATMOD_EXPORT_SRC
# adds the firmware author's). Preprocessed with the host compiler: the
# marker files need no target headers.
list(APPEND NATMOD_EXPORT_SRC ${CMAKE_CURRENT_LIST_DIR}/natmod_exports.c)
add_custom_command(
    OUTPUT ${NATMOD_GEN_DIR}/nm-gen-exports
    COMMAND ${CMAKE_COMMAND} -E make_directory ${NATMOD_GEN_DIR}
    COMMAND cc -O1 -std=c11 -I${NATMOD_TOP}/include -I${NATMOD_TOP}/ports/host
            -o ${NATMOD_GEN_DIR}/nm-gen-exports
            ${NATMOD_TOP}/ports/host/gen_exports.c ${NATMOD_TOP}/ports/host/gen_protos.c
    DEPENDS ${NATMOD_TOP}/ports/host/gen_exports.c ${NATMOD_TOP}/ports/host/gen_protos.c)
set(NATMOD_EXPORT_I)
foreach(src ${NATMOD_EXPORT_SRC})
    get_filename_component(n ${src} NAME_WE)
    add_custom_command(OUTPUT ${NATMOD_GEN_DIR}/${n}.i
        COMMAND cc -E -I${CMAKE_CURRENT_LIST_DIR} -I${NATMOD_TOP}/include ${src} -o ${NATMOD_GEN_DIR}/${n}.i
        DEPENDS ${src})
    list(APPEND NATMOD_EXPORT_I ${NATMOD_GEN_DIR}/${n}.i)
endforeach()
add_custom_command(
    OUTPUT ${NATMOD_GEN_DIR}/exports.c
    COMMAND ${NATMOD_GEN_DIR}/nm-gen-exports -o ${NATMOD_GEN_DIR}/exports.c
            -s ${NATMOD_GEN_DIR}/board.syms ${NATMOD_EXPORT_I}
    DEPENDS ${NATMOD_GEN_DIR}/nm-gen-exports ${NATMOD_EXPORT_I})
target_link_libraries(usermod INTERFACE usermod_natmod)
