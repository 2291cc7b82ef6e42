# Install rules: what `cmake --install BUILD_DIR [--prefix DIR]` puts into a
# prefix, and the files through which users find it there:
#
#   lib/libprov.so.1.0.0, libprov.so.1 (SONAME), libprov.so (link name)
#   include/prov/prov.h
#   lib/pkgconfig/prov.pc                       pkg-config --cflags --libs prov
#   lib/cmake/prov/provConfig.cmake,            find_package(prov) -> prov::prov
#     provConfigVersion.cmake, provTargets*.cmake
#   bin/prov, bin/dps-emulator                  when those targets are built
#
# and, with PROV_BUILD_BINDINGS, one component per binding (install it with
# `--component bindings-<language>` next to runtime + development):
#
#   bindings-go      share/libprov/go/          the Go module, SWIG output included
#                                               (builds with pkg-config: prov)
#   bindings-java    share/java/libprov-<v>.jar, lib/libprov_java.so
#   bindings-csharp  lib/mono/libprov/Libprov.dll (+ .xml docs, libprov_csharp.so)
#   bindings-lua     lib/lua/5.4/prov_native.so, share/lua/5.4/prov.lua
#
# The native wrappers find libprov.so.1 relative to themselves (RUNPATH
# $ORIGIN/...: prov_install_binding_rpath below), wherever the prefix is.
#
# Included at the end of src/CMakeLists.txt, after the `prov` target exists.
# The CLI and the emulator are defined later (cli/, emulator/), so their
# rules are deferred to the end of the top-level directory.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PROV_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/prov
    CACHE STRING "Where provConfig.cmake is installed, relative to the prefix")
set(PROV_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig
    CACHE STRING "Where prov.pc is installed, relative to the prefix")
mark_as_advanced(PROV_INSTALL_CMAKEDIR PROV_INSTALL_PKGCONFIGDIR)

# --- the library and its header ------------------------------------------
install(TARGETS prov EXPORT provTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
install(FILES ${PROJECT_SOURCE_DIR}/include/prov/prov.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/prov COMPONENT development)

# --- pkg-config ------------------------------------------------------------
# prov.pc locates the prefix relative to itself (${pcfiledir}), so the same
# file is right for the configured prefix and for `cmake --install --prefix`.
function(prov_pc_path out_var dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out_var} "${dir}" PARENT_SCOPE)
  else()
    set(${out_var} "\${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
if(IS_ABSOLUTE "${PROV_INSTALL_PKGCONFIGDIR}")
  message(FATAL_ERROR "PROV_INSTALL_PKGCONFIGDIR must be relative to the prefix, "
                      "got '${PROV_INSTALL_PKGCONFIGDIR}'")
endif()
file(RELATIVE_PATH PROV_PC_RELATIVE_PREFIX
  "/prefix/${PROV_INSTALL_PKGCONFIGDIR}" "/prefix")
string(REGEX REPLACE "/$" "" PROV_PC_RELATIVE_PREFIX "${PROV_PC_RELATIVE_PREFIX}")
prov_pc_path(PROV_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
prov_pc_path(PROV_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
configure_file(${PROJECT_SOURCE_DIR}/pkgconfig/prov.pc.in
  ${PROJECT_BINARY_DIR}/pkgconfig/prov.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/prov.pc
  DESTINATION ${PROV_INSTALL_PKGCONFIGDIR} COMPONENT development)

# --- CMake package ---------------------------------------------------------
# The library's own dependencies are PRIVATE (libprov.so.1 carries them in
# DT_NEEDED), so consumers need no find_dependency() for them.
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/provConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/provConfig.cmake
  INSTALL_DESTINATION ${PROV_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# Same major = same SONAME = compatible (abi/README.md).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/provConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/provConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/provConfigVersion.cmake
  DESTINATION ${PROV_INSTALL_CMAKEDIR} COMPONENT development)
install(EXPORT provTargets NAMESPACE prov:: FILE provTargets.cmake
  DESTINATION ${PROV_INSTALL_CMAKEDIR} COMPONENT development)

# --- programs --------------------------------------------------------------
# Installed programs find libprov.so.1 in the prefix's library directory
# relative to themselves, wherever the prefix is.
function(prov_install_programs)
  file(RELATIVE_PATH bin_to_lib
    "/prefix/${CMAKE_INSTALL_BINDIR}" "/prefix/${CMAKE_INSTALL_LIBDIR}")
  foreach(program IN ITEMS prov-cli dps-emulator)
    if(TARGET ${program})
      set_property(TARGET ${program} APPEND PROPERTY INSTALL_RPATH "$ORIGIN/${bin_to_lib}")
      install(TARGETS ${program} EXPORT provTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
    endif()
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL prov_install_programs)

# --- bindings ----------------------------------------------------------------
# prov_install_binding_rpath(TARGET DESTINATION): TARGET is installed into
# DESTINATION (relative to the prefix) and finds libprov.so.1 in the
# prefix's library directory relative to itself.
function(prov_install_binding_rpath target destination)
  file(RELATIVE_PATH to_lib "/prefix/${destination}" "/prefix/${CMAKE_INSTALL_LIBDIR}")
  if(to_lib STREQUAL "")
    set(to_lib ".")
  endif()
  set_property(TARGET ${target} PROPERTY INSTALL_RPATH "$ORIGIN/${to_lib}")
endfunction()
