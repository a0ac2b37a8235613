# cmake --install [--prefix DIR]: what a firmware author or a host program
# consumes (docs/install.md):
#   bin/                       natmod, nm-gen-exports, asi2c-pty, asi2c-simbus
#   include/natmod/            the public headers
#   lib/libnatmod_runtime.a    the freestanding runtime built for this host
#   lib/pkgconfig/natmod.pc    pkg-config --cflags --libs natmod
#   lib/cmake/natmod/          find_package(natmod): natmod::runtime,
#                              natmod::natmod, natmod_firmware_exports()
#   share/natmod/runtime/      the runtime's sources, a CMakeLists.txt for
#                              add_subdirectory and cmake/natmod-runtime.cmake
#                              for include(): cross builds compile these
#   share/natmod/host-board.syms   the host board's symbols (natmod build --syms)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NATMOD_RUNTIME_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/natmod/runtime)
set(NATMOD_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/natmod)

# The runtime for this host, from the same source lists a cross build uses.
natmod_add_runtime(natmod_runtime)
target_include_directories(natmod_runtime PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set_target_properties(natmod_runtime PROPERTIES POSITION_INDEPENDENT_CODE ON EXPORT_NAME runtime)
install(TARGETS natmod_runtime EXPORT natmodTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(_nm_tools natmod)
foreach(t nm-gen-exports asi2c-pty asi2c-simbus)
  if(TARGET ${t})
    list(APPEND _nm_tools ${t})
  endif()
endforeach()
install(TARGETS ${_nm_tools} EXPORT natmodTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/natmod DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# The sources, laid out as in this tree, so natmod-runtime.cmake finds them
# relative to itself.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/natmod DESTINATION ${NATMOD_RUNTIME_INSTALL_DIR}/include
        FILES_MATCHING PATTERN "*.h")
foreach(f ${NATMOD_RUNTIME_SOURCES} ${NATMOD_RUNTIME_PRIVATE_HEADERS})
  file(RELATIVE_PATH rel ${NATMOD_RUNTIME_ROOT} ${f})
  get_filename_component(reldir ${rel} DIRECTORY)
  install(FILES ${f} DESTINATION ${NATMOD_RUNTIME_INSTALL_DIR}/${reldir})
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/cmake/natmod-runtime.cmake DESTINATION ${NATMOD_RUNTIME_INSTALL_DIR}/cmake)
install(FILES ${CMAKE_SOURCE_DIR}/cmake/runtime-CMakeLists.txt DESTINATION ${NATMOD_RUNTIME_INSTALL_DIR}
        RENAME CMakeLists.txt)

if(NATMOD_HOST_SYMS)
  install(FILES ${NATMOD_HOST_SYMS} DESTINATION ${CMAKE_INSTALL_DATADIR}/natmod RENAME host-board.syms)
endif()
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

# CMake package: natmodConfig.cmake, its version file, the exported targets.
install(EXPORT natmodTargets NAMESPACE natmod:: DESTINATION ${NATMOD_CMAKE_INSTALL_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/natmodConfig.cmake.in
  ${CMAKE_BINARY_DIR}/natmodConfig.cmake
  INSTALL_DESTINATION ${NATMOD_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR CMAKE_INSTALL_DATADIR NATMOD_RUNTIME_INSTALL_DIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/natmodConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/natmodConfig.cmake ${CMAKE_BINARY_DIR}/natmodConfigVersion.cmake
              ${CMAKE_SOURCE_DIR}/cmake/natmod_exports.cmake
        DESTINATION ${NATMOD_CMAKE_INSTALL_DIR})

# pkg-config: paths relative to the .pc file, so the prefix given to
# cmake --install at install time (not only CMAKE_INSTALL_PREFIX) works.
set(_nm_pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
string(REGEX REPLACE "[^/]+" ".." _nm_pc_up "${_nm_pcdir}")
set(NATMOD_PC_PREFIX "\${pcfiledir}/${_nm_pc_up}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/natmod.pc.in ${CMAKE_BINARY_DIR}/natmod.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/natmod.pc DESTINATION ${_nm_pcdir})
