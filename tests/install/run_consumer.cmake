# cmake -P script behind the install_consumer test (see CMakeLists.txt next to it).
#
#   1. cmake --install <QAIO_BUILD_DIR> --prefix <QAIO_WORK_DIR>/prefix
#   2. configure + build <QAIO_CONSUMER_SOURCE_DIR> with CMAKE_PREFIX_PATH=<prefix>, same compiler and flags
#   3. run the consumer program(s) and check that they print "consumer ok"
#
# Inputs (-D): QAIO_BUILD_DIR QAIO_CONSUMER_SOURCE_DIR QAIO_WORK_DIR (required);
#              QAIO_CONFIG QAIO_GENERATOR QAIO_MAKE_PROGRAM QAIO_CXX_COMPILER QAIO_CXX_FLAGS
#              QAIO_EXE_LINKER_FLAGS QAIO_REQUIRE_QT QAIO_QT6_DIR (optional).
cmake_minimum_required(VERSION 3.22)

foreach(var IN ITEMS QAIO_BUILD_DIR QAIO_CONSUMER_SOURCE_DIR QAIO_WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${QAIO_WORK_DIR}/prefix")
set(consumer_build "${QAIO_WORK_DIR}/build")

# Run a command; on failure print its output and stop.
function(run_step what)
  message(STATUS "install_consumer: ${what}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rv
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out
    TIMEOUT 540)
  if(NOT rv EQUAL 0)
    list(JOIN ARGN " " cmdline)
    message(FATAL_ERROR "install_consumer: ${what} failed (${rv})\n  command: ${cmdline}\n${out}")
  endif()
endfunction()

# Start from scratch: a stale prefix could hide a missing install rule.
file(REMOVE_RECURSE "${prefix}" "${consumer_build}")
file(MAKE_DIRECTORY "${QAIO_WORK_DIR}")

# ---- 1. install ---------------------------------------------------------------------------------------
set(install_cmd "${CMAKE_COMMAND}" --install "${QAIO_BUILD_DIR}" --prefix "${prefix}")
if(QAIO_CONFIG)
  list(APPEND install_cmd --config "${QAIO_CONFIG}")
endif()
run_step("installing ${QAIO_BUILD_DIR} into ${prefix}" ${install_cmd})

file(GLOB_RECURSE config_files "${prefix}/*/qaioConfig.cmake")
if(NOT config_files)
  message(FATAL_ERROR "install_consumer: no qaioConfig.cmake under ${prefix}")
endif()
file(GLOB_RECURSE umbrella_headers "${prefix}/*/qaio/qaio.h")
if(NOT umbrella_headers)
  message(FATAL_ERROR "install_consumer: qaio/qaio.h was not installed under ${prefix}")
endif()

# ---- 2. configure + build the consumer --------------------------------------------------------------------
set(configure_cmd "${CMAKE_COMMAND}"
  -S "${QAIO_CONSUMER_SOURCE_DIR}"
  -B "${consumer_build}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  # Only the scratch prefix (and the system) may provide qaio, never a user's package registry.
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(QAIO_GENERATOR)
  list(APPEND configure_cmd -G "${QAIO_GENERATOR}")
  if(QAIO_MAKE_PROGRAM)
    list(APPEND configure_cmd "-DCMAKE_MAKE_PROGRAM=${QAIO_MAKE_PROGRAM}")
  endif()
endif()
if(QAIO_CXX_COMPILER)
  list(APPEND configure_cmd "-DCMAKE_CXX_COMPILER=${QAIO_CXX_COMPILER}")
endif()
if(QAIO_CONFIG)
  list(APPEND configure_cmd "-DCMAKE_BUILD_TYPE=${QAIO_CONFIG}")
endif()
# Always pass the flags, even empty, so the consumer's cache matches the producer's (sanitizers!).
list(APPEND configure_cmd
  "-DCMAKE_CXX_FLAGS=${QAIO_CXX_FLAGS}"
  "-DCMAKE_EXE_LINKER_FLAGS=${QAIO_EXE_LINKER_FLAGS}")
if(QAIO_REQUIRE_QT)
  list(APPEND configure_cmd -DQAIO_CONSUMER_REQUIRE_QT=ON)
  if(QAIO_QT6_DIR)
    list(APPEND configure_cmd "-DQt6_DIR=${QAIO_QT6_DIR}")
  endif()
endif()
run_step("configuring the consumer" ${configure_cmd})

set(build_cmd "${CMAKE_COMMAND}" --build "${consumer_build}")
if(QAIO_CONFIG)
  list(APPEND build_cmd --config "${QAIO_CONFIG}")
endif()
run_step("building the consumer" ${build_cmd})

# ---- 3. run ---------------------------------------------------------------------------------------------
set(programs qaio_consumer)
if(QAIO_REQUIRE_QT)
  list(APPEND programs qaio_consumer_qt)
endif()
foreach(program IN LISTS programs)
  set(exe "${consumer_build}/${program}")
  if(QAIO_CONFIG AND NOT EXISTS "${exe}" AND EXISTS "${consumer_build}/${QAIO_CONFIG}/${program}")
    set(exe "${consumer_build}/${QAIO_CONFIG}/${program}")  # multi-config generators
  endif()
  message(STATUS "install_consumer: running ${exe}")
  execute_process(COMMAND "${exe}"
    RESULT_VARIABLE rv
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err
    TIMEOUT 60)
  if(NOT rv EQUAL 0 OR NOT out MATCHES "consumer ok")
    message(FATAL_ERROR "install_consumer: ${program} failed (exit: ${rv})\n"
                        "stdout:\n${out}\nstderr:\n${err}")
  endif()
  if(NOT err STREQUAL "")
    message(STATUS "install_consumer: ${program} stderr:\n${err}")
  endif()
  message(STATUS "install_consumer: ${program} printed \"consumer ok\"")
endforeach()
message(STATUS "install_consumer: PASSED")
