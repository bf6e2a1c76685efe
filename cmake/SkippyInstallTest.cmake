# Installs the build tree into a scratch prefix, then configures, builds and runs the consumer project
# of test/install_consumer against it with find_package(skippy CONFIG). Run with cmake -P and
# -DBUILD_DIR= -DSOURCE_DIR= -DWORK_DIR= -DGENERATOR= [-DCONFIG=] [-DCXX_COMPILER=].

foreach(var BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "SkippyInstallTest.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(NOTICE "${out}${err}")
    message(FATAL_ERROR "command failed (${rc}): ${ARGV}")
  endif()
endfunction()

set(config_args)
set(configure_args)
if(DEFINED CONFIG AND NOT CONFIG STREQUAL "")
  set(config_args --config "${CONFIG}")
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
if(DEFINED CXX_COMPILER AND NOT CXX_COMPILER STREQUAL "")
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()

run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" ${config_args})
# The consumer must find skippy only in the prefix, never in the user's package registry or the tree.
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/test/install_consumer" -B "${WORK_DIR}/build" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF ${configure_args})
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build" ${config_args})
find_program(consumer consumer PATHS "${WORK_DIR}/build" "${WORK_DIR}/build/${CONFIG}" NO_DEFAULT_PATH NO_CACHE)
if(NOT consumer)
  message(FATAL_ERROR "consumer executable not found under ${WORK_DIR}/build")
endif()
run("${consumer}")

# skippy_add_weight_kernels in a project without CUDA: a configure error that says so.
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/test/install_consumer" -B "${WORK_DIR}/no_cuda"
                        -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
                        -DSKIPPY_CONSUMER_KERNELS_WITHOUT_CUDA=ON ${configure_args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT "${out}${err}" MATCHES "skippy_add_weight_kernels\\(consumer_kernels\\): enable CUDA first")
  message(NOTICE "${out}${err}")
  message(FATAL_ERROR "skippy_add_weight_kernels without CUDA: expected a configure error naming it")
endif()
message(STATUS "installed package found and used by a consumer project")
