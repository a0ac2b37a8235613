# natmod_asi2c_linux: the Responder on Linux (hal_linux.c: HAL, ppoll loop,
# i2c-dev + libgpiod v1 io) and the two-process simulated bus (sim_link.c:
# bus host + client io). Host only.
find_package(PkgConfig REQUIRED)
pkg_check_modules(GPIOD REQUIRED libgpiod)

add_library(natmod_asi2c_linux STATIC
            ${CMAKE_CURRENT_LIST_DIR}/hal_linux.c
            ${CMAKE_CURRENT_LIST_DIR}/sim_link.c)
# ppoll, accept4, SOCK_CLOEXEC; public because hal_linux.h needs sigset_t.
target_compile_definitions(natmod_asi2c_linux PUBLIC _GNU_SOURCE)
target_include_directories(natmod_asi2c_linux PRIVATE ${GPIOD_INCLUDE_DIRS})
target_link_libraries(natmod_asi2c_linux PUBLIC natmod_asi2c_sim PRIVATE ${GPIOD_LINK_LIBRARIES})
