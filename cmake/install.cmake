# Install rules and the CMake package config for qaio, so that consumers can do
#
#   find_package(qaio 0.1 REQUIRED)                  # qaio::core, plus qaio::qt when it was built
#   find_package(qaio 0.1 REQUIRED COMPONENTS qt)    # fail unless qaio::qt was installed
#
# Included from the top-level CMakeLists.txt after the qaio_core / qaio_qt targets are defined.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(QAIO_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/qaio"
    CACHE STRING "Where to install qaio's CMake package files (relative to the prefix)")
mark_as_advanced(QAIO_INSTALL_CMAKEDIR)

set(_qaio_install_targets)
if(TARGET qaio_core)
  list(APPEND _qaio_install_targets qaio_core)
endif()
set(QAIO_INSTALLED_QT OFF)
if(QAIO_HAVE_QT AND TARGET qaio_qt)
  list(APPEND _qaio_install_targets qaio_qt)
  set(QAIO_INSTALLED_QT ON)
endif()

if(NOT _qaio_install_targets)
  message(WARNING "qaio: no library targets defined; nothing to install")
  return()
endif()

install(TARGETS ${_qaio_install_targets}
  EXPORT qaioTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Public headers. The Qt headers are left out when the Qt driver was not built.
set(_qaio_header_excludes)
if(NOT QAIO_INSTALLED_QT)
  set(_qaio_header_excludes PATTERN "qt" EXCLUDE PATTERN "qt.h" EXCLUDE)
endif()
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/qaio"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  ${_qaio_header_excludes})

install(EXPORT qaioTargets
  NAMESPACE qaio::
  DESTINATION ${QAIO_INSTALL_CMAKEDIR})

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/qaioConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/qaioConfig.cmake"
  INSTALL_DESTINATION ${QAIO_INSTALL_CMAKEDIR})
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/qaioConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/qaioConfig.cmake"
  "${PROJECT_BINARY_DIR}/qaioConfigVersion.cmake"
  DESTINATION ${QAIO_INSTALL_CMAKEDIR})

unset(_qaio_install_targets)
unset(_qaio_header_excludes)
