#pragma once
// The demo's CUDA backend (examples/demo_cuda.cu, built when CUDA is): a separate translation unit so
// the host demo compiles with the C++ compiler and only these decoders go through nvcc.

#include <string>

#include "demo_run.hpp"

namespace skippy::examples {

struct CudaDemo {
  bool ran = false;  // false: no GPU, or the options name a configuration not compiled for CUDA
  int rc = 0;
  std::string why;   // when !ran
};

CudaDemo demo_cuda(const DemoOptions& o);

}  // namespace skippy::examples
