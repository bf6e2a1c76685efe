#pragma once
// The explicit instantiation definitions of the standard set of weight kernels (instances.cuh): include
// in exactly one CUDA translation unit of a program whose others define SKIPPY_CUDA_EXTERN_WEIGHT_KERNELS.
// Compiling it takes most of a program's CUDA compile time (every weight kernel in every layout and tile
// of rows), once.

#include "../quant/types.hpp"
#include "gemm.cuh"
#include "gemv.cuh"

SKIPPY_CUDA_STANDARD_GEMV_KERNELS()
SKIPPY_CUDA_STANDARD_GEMM_KERNELS()
