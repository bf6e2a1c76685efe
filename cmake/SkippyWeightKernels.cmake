# skippy_add_weight_kernels(<name>): an object library that compiles skippy's standard set of CUDA weight
# kernels once (include/skippy/cuda/instances.cuh says why), for a program of several CUDA translation
# units. Linking <name> defines SKIPPY_CUDA_EXTERN_WEIGHT_KERNELS in the linking target, so its own
# translation units declare the kernels extern and take them from <name>. Included by skippyConfig.cmake
# (find_package) and by skippy's CMakeLists.txt (add_subdirectory); the project's own tests, examples and
# benchmarks use it too. The caller's project must have enabled CUDA.
include_guard(GLOBAL)

function(skippy_add_weight_kernels name)
  if(NOT ARGC EQUAL 1)
    message(FATAL_ERROR "skippy_add_weight_kernels takes one argument, the target's name (got: ${ARGV})")
  endif()
  if(TARGET ${name})
    message(FATAL_ERROR "skippy_add_weight_kernels: a target named '${name}' already exists")
  endif()
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "CUDA" IN_LIST languages)
    message(FATAL_ERROR "skippy_add_weight_kernels(${name}): enable CUDA first "
                        "(project(... LANGUAGES CXX CUDA) or enable_language(CUDA))")
  endif()
  if(NOT TARGET skippy::skippy)
    message(FATAL_ERROR "skippy_add_weight_kernels(${name}): skippy::skippy is not defined "
                        "(find_package(skippy) or add_subdirectory(skippy) first)")
  endif()
  if(NOT TARGET CUDA::cudart)
    find_package(CUDAToolkit REQUIRED)
  endif()
  set(source ${CMAKE_CURRENT_BINARY_DIR}/${name}.cu)
  file(CONFIGURE OUTPUT ${source} CONTENT "#include <skippy/cuda/instantiate.cuh>\n")
  add_library(${name} OBJECT ${source})
  target_link_libraries(${name} PUBLIC skippy::skippy CUDA::cudart)
  target_compile_features(${name} PUBLIC cuda_std_17)  # skippy::skippy's cxx_std_17 does not reach nvcc
  target_compile_definitions(${name} PUBLIC SKIPPY_CUDA_EXTERN_WEIGHT_KERNELS)
endfunction()
