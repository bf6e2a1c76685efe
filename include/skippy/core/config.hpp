#pragma once
// Portability macros shared by every header: one formula, compiled for host and device.

#if defined(__CUDACC__)
#define SKIPPY_HD __host__ __device__
#define SKIPPY_HD_INLINE __host__ __device__ __forceinline__
#else
#define SKIPPY_HD
#define SKIPPY_HD_INLINE inline
#endif

#if defined(__CUDA_ARCH__)
#define SKIPPY_DEVICE_PASS 1
#else
#define SKIPPY_DEVICE_PASS 0
#endif
