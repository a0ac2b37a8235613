# Firmware export build step, for any board. Installed with natmod's CMake
# package (find_package(natmod) includes it).
#
#   natmod_firmware_exports(
#     TARGET   <firmware target>      # its include dirs/defines/options are used to preprocess
#     SOURCES  <export sources...>    # files containing NM_FW_EXPORT(...)
#     OUT_C    <generated table .c>   # add it to the firmware target's sources
#     OUT_SYMS <symbol list file>)    # for the linker (natmod link --syms)
#
# Each source is preprocessed with the C compiler (`-E`, line markers kept so
# messages name the real file:line) using the target's own flags, so exports
# under a false `#if` are not exported; then nm-gen-exports collects the
# markers, sorts by nm_hash and fails the build on a hash collision.
#
# The generator is the host program nm-gen-exports. In a cross build, point
# NATMOD_GEN_EXPORTS at a host-built copy (natmodConfig.cmake sets it to the
# installed one); otherwise the target of that name from this build is used.
function(natmod_firmware_exports)
  cmake_parse_arguments(A "" "TARGET;OUT_C;OUT_SYMS" "SOURCES" ${ARGN})
  if(NOT A_TARGET OR NOT A_OUT_C OR NOT A_OUT_SYMS OR NOT A_SOURCES)
    message(FATAL_ERROR "natmod_firmware_exports: TARGET, SOURCES, OUT_C and OUT_SYMS are required")
  endif()
  if(NATMOD_GEN_EXPORTS)
    set(gen ${NATMOD_GEN_EXPORTS})
    set(gen_dep ${NATMOD_GEN_EXPORTS})
  else()
    set(gen $<TARGET_FILE:nm-gen-exports>)
    set(gen_dep nm-gen-exports)
  endif()

  set(incs "$<TARGET_PROPERTY:${A_TARGET},INCLUDE_DIRECTORIES>")
  set(defs "$<TARGET_PROPERTY:${A_TARGET},COMPILE_DEFINITIONS>")
  set(opts "$<TARGET_PROPERTY:${A_TARGET},COMPILE_OPTIONS>")
  separate_arguments(cflags UNIX_COMMAND "${CMAKE_C_FLAGS}")
  set(std "")
  if(CMAKE_C_STANDARD)
    set(std -std=c${CMAKE_C_STANDARD})
    if(CMAKE_C_EXTENSIONS)
      set(std -std=gnu${CMAKE_C_STANDARD})
    endif()
  endif()

  set(pp_files "")
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/nm_exports_pp)
  foreach(src ${A_SOURCES})
    get_filename_component(abs ${src} ABSOLUTE)
    get_filename_component(base ${src} NAME)
    set(pp ${dir}/${base}.i)
    add_custom_command(
      OUTPUT ${pp}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
      COMMAND ${CMAKE_C_COMPILER} ${cflags} ${std}
              "$<$<BOOL:${incs}>:-I$<JOIN:${incs},;-I>>"
              "$<$<BOOL:${defs}>:-D$<JOIN:${defs},;-D>>"
              "${opts}"
              -E -MD -MF ${pp}.d -MT ${pp} -o ${pp} ${abs}
      DEPENDS ${abs}
      DEPFILE ${pp}.d
      COMMENT "Preprocessing ${base} for firmware exports"
      COMMAND_EXPAND_LISTS
      VERBATIM)
    list(APPEND pp_files ${pp})
  endforeach()

  add_custom_command(
    OUTPUT ${A_OUT_C} ${A_OUT_SYMS}
    COMMAND ${gen} -o ${A_OUT_C} -s ${A_OUT_SYMS} ${pp_files}
    DEPENDS ${gen_dep} ${pp_files}
    COMMENT "Generating firmware export table ${A_OUT_C}"
    VERBATIM)
endfunction()
