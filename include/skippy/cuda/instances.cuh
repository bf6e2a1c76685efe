#pragma once
// Explicit instantiation of the weight kernels, so that a program compiles them once rather than in every
// translation unit that runs a Forward or a gemv. Every weight kernel is reached through a few host
// functions (detail::launch_layout: the interleaved and tensor-core gemv kernels in every layout and tile
// of rows; detail::launch_half_mma; detail::launch_reference; detail::launch_gemm; detail::gemm_attributes
// and detail::half_mma_attributes, which gemm_supported and gemv_mma_supported ask), so an explicit
// instantiation declaration of those keeps a translation unit from instantiating the kernels at all
// (without relocatable device code: each kernel is compiled and launched in the one translation unit that
// defines those functions). Macros only: gemv.cuh and gemm.cuh expand them at their ends.
//
// Use, in a program of several CUDA translation units:
//  - define SKIPPY_CUDA_EXTERN_WEIGHT_KERNELS in all of them (a compile definition of the target): the
//    headers then declare the launchers of the standard set below extern;
//  - compile `#include <skippy/cuda/instantiate.cuh>` in exactly one of them: it defines that set.
// (CMake's skippy_add_weight_kernels(<name>), cmake/SkippyWeightKernels.cmake, does both: an object library
// to link; this project's is skippy_cuda_weight_kernels.) The compile-time experiment knobs
// (SKIPPY_GEMV_ROWS, SKIPPY_GEMV_PREFETCH, ...) must then be the same in every translation unit. Other
// types or arithmetics can be declared and defined the same way with the macros below, expanded at global
// scope.
//
// The standard set: the float arithmetic for F32, F16, BF16, F8_E4M3, Q8_0 and Q4_0 (over plain activations
// and a fused norm's, quant/normed_slice.hpp); 8-bit activations for Q8_0 and Q4_0; tensor cores over float
// activations for F16 and BF16: every weight kernel a Forward<Q, A> or the gemv and gemm functions of those
// types launch. (The other kernels, a few per program, are compiled
// where they are used.)

#include <cuda_runtime.h>

// EXTERN is `extern` (a declaration) or empty (the definition); Q a weight type named from namespace
// skippy (quant::F16). Expanded at global scope, after the header of the launchers (gemv.cuh, gemm.cuh).
#define SKIPPY_CUDA_GEMV_KERNELS(EXTERN, Q)                                                                  \
  namespace skippy::cuda::detail {                                                                           \
  EXTERN template cudaError_t launch_layout<false, quant::FloatSlices<Q>, Q>(                                \
      const GemvBatch<Q>&, WeightLayout, const float*, int, const Launch&);                                  \
  EXTERN template cudaError_t launch_layout<true, quant::FloatSlices<Q>, Q>(                                 \
      const GemvBatch<Q>&, WeightLayout, const float*, int, const Launch&);                                  \
  EXTERN template cudaError_t launch_reference<Q>(const MatrixView<Q>&, const float*, int, float*,            \
                                                  const Launch&);                                            \
  EXTERN template cudaError_t launch_layout<false, quant::NormedSlices<Q>, Q>(                               \
      const GemvBatch<Q>&, WeightLayout, quant::NormedRows, int, const Launch&);                             \
  EXTERN template cudaError_t launch_layout<true, quant::NormedSlices<Q>, Q>(                                \
      const GemvBatch<Q>&, WeightLayout, quant::NormedRows, int, const Launch&);                             \
  EXTERN template cudaError_t launch_layout<false, ResidualSlices<Q>, Q>(                                    \
      const GemvBatch<Q>&, WeightLayout, const float*, int, const Launch&);                                  \
  }

// gemv over 8-bit activations (Q8_0 and Q4_0 only).
#define SKIPPY_CUDA_GEMV_INT8_KERNELS(EXTERN, Q)                                                             \
  namespace skippy::cuda::detail {                                                                           \
  EXTERN template cudaError_t launch_layout<false, quant::Q8Slices<Q>, Q>(                                   \
      const GemvBatch<Q>&, WeightLayout, quant::Q8Rows, int, const Launch&);                                 \
  EXTERN template cudaError_t launch_layout<true, quant::Q8Slices<Q>, Q>(                                    \
      const GemvBatch<Q>&, WeightLayout, quant::Q8Rows, int, const Launch&);                                 \
  }

// gemv on tensor cores over float activations (F16 and BF16 only).
#define SKIPPY_CUDA_GEMV_MMA_KERNELS(EXTERN, Q)                                                              \
  namespace skippy::cuda::detail {                                                                           \
  EXTERN template cudaError_t launch_half_mma<false, Q>(GemvBatch<Q>, const float*, int, const Launch&);     \
  EXTERN template cudaError_t launch_half_mma<true, Q>(GemvBatch<Q>, const float*, int, const Launch&);      \
  EXTERN template cudaError_t half_mma_attributes<Q>(cudaFuncAttributes&);                                   \
  }

#define SKIPPY_CUDA_GEMM_KERNELS(EXTERN, Q)                                                                  \
  namespace skippy::cuda::detail {                                                                           \
  EXTERN template cudaError_t launch_gemm<Q>(const MatrixView<Q>&, const float*, int, float*, const Launch&,   \
                                             int);                                                           \
  EXTERN template cudaError_t gemm_attributes<Q>(cudaFuncAttributes&);                                       \
  }

// The standard set, by header.
#define SKIPPY_CUDA_STANDARD_GEMV_KERNELS(EXTERN)      \
  SKIPPY_CUDA_GEMV_KERNELS(EXTERN, quant::F32)         \
  SKIPPY_CUDA_GEMV_KERNELS(EXTERN, quant::F16)         \
  SKIPPY_CUDA_GEMV_KERNELS(EXTERN, quant::BF16)        \
  SKIPPY_CUDA_GEMV_KERNELS(EXTERN, quant::F8_E4M3)     \
  SKIPPY_CUDA_GEMV_KERNELS(EXTERN, quant::Q8_0)        \
  SKIPPY_CUDA_GEMV_KERNELS(EXTERN, quant::Q4_0)        \
  SKIPPY_CUDA_GEMV_INT8_KERNELS(EXTERN, quant::Q8_0)   \
  SKIPPY_CUDA_GEMV_INT8_KERNELS(EXTERN, quant::Q4_0)   \
  SKIPPY_CUDA_GEMV_MMA_KERNELS(EXTERN, quant::F16)     \
  SKIPPY_CUDA_GEMV_MMA_KERNELS(EXTERN, quant::BF16)
#define SKIPPY_CUDA_STANDARD_GEMM_KERNELS(EXTERN) \
  SKIPPY_CUDA_GEMM_KERNELS(EXTERN, quant::F32)    \
  SKIPPY_CUDA_GEMM_KERNELS(EXTERN, quant::F16)    \
  SKIPPY_CUDA_GEMM_KERNELS(EXTERN, quant::BF16)   \
  SKIPPY_CUDA_GEMM_KERNELS(EXTERN, quant::F8_E4M3) \
  SKIPPY_CUDA_GEMM_KERNELS(EXTERN, quant::Q8_0)   \
  SKIPPY_CUDA_GEMM_KERNELS(EXTERN, quant::Q4_0)
