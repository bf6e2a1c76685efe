#pragma once
// How the library launches its forward-pass kernels: on a stream, and optionally early, with programmatic
// dependent launch (sm_90 and newer). A decoding step is a chain of a few hundred kernels, many of them a
// few microseconds long; launched one after another, each waits for the previous to drain, then pays its
// own launch latency, while the memory system idles. Launched early, a kernel's blocks may start as soon
// as every block of the kernel before it has started; they release their own dependents, the weight
// kernels ask L2 for their first weights (gemv.cuh), and then each waits in wait_for_producers until the
// kernel before it has finished and its writes are visible. Correctness needs only that wait: every kernel
// this library launches through launch() calls dependent_prologue() before it reads or writes any memory
// another kernel touches, so the results are the same bits either way.

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace skippy::cuda {

namespace kernels {
// Waits until the kernels this grid depends on have finished and their writes are visible. Returns at once
// for a grid launched without a programmatic dependency, and compiles to nothing below sm_90 (where
// launch() never launches early).
__device__ __forceinline__ void wait_for_producers() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
// Lets the next early-launched kernel on the stream start once every block of this grid has called this
// (or exited). Its blocks then hold resources until this grid finishes, but never displace this grid's
// blocks: by then they have all started.
__device__ __forceinline__ void release_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}
// The first statement of every kernel launch() may launch early (after prefetches of read-only weights).
__device__ __forceinline__ void dependent_prologue() {
  release_dependents();
  wait_for_producers();
}
// Asks L2 for the bytes [p, p + n) of read-only global memory, as far as they are whole 16-byte units
// (sm_90's bulk prefetch; nothing elsewhere). A hint: it neither faults nor changes a result.
__device__ __forceinline__ void prefetch_l2(const void* p, std::size_t n) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  std::size_t a = (__cvta_generic_to_global(p) + 15) / 16 * 16;
  const std::size_t end = (__cvta_generic_to_global(p) + n) / 16 * 16;
  constexpr std::size_t most = 1u << 16;  // bytes per instruction
  for (; a < end; a += most) {
    const unsigned size = static_cast<unsigned>(end - a < most ? end - a : most);
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(a), "r"(size) : "memory");
  }
#else
  (void)p;
  (void)n;
#endif
}

// A kernel that tells the host which virtual architecture this translation unit's kernels were built for.
template <int = 0>
__global__ void launch_probe() {}
}  // namespace kernels

namespace detail {
inline bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }
}  // namespace detail

// Whether the library's kernels may launch early on the current device: the device is sm_90 or newer and
// the kernels were compiled from sm_90+ code (an older build has no wait in them). The probe kernel has one
// definition in a program, so every translation unit that launches them is taken to be built for the same
// architectures. Cached per device.
inline bool early_launch_supported() {
  constexpr int cached = 64;
  static std::atomic<signed char> known[cached];  // 0 unknown, 1 no, 2 yes
  int device = 0, major = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  if (device < cached) {
    const signed char k = known[device].load(std::memory_order_relaxed);
    if (k != 0) return k == 2;
  }
  cudaFuncAttributes attr{};
  const bool yes = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
                   cudaFuncGetAttributes(&attr, kernels::launch_probe<>) == cudaSuccess && major >= 9 &&
                   attr.ptxVersion >= 90;
  cudaGetLastError();  // leave no error pending for the next launch check
  if (device < cached) known[device].store(yes ? 2 : 1, std::memory_order_relaxed);
  return yes;
}

// Whether a tensor-core kernel runs here: the current device is sm_80 or newer and `attributes` (which
// fills in the kernel's cudaFuncAttributes) reports code built for sm_80 or newer (an older build compiles
// the kernel's fallback). Leaves no error pending.
inline bool tensor_core_kernel_runs(cudaError_t (*attributes)(cudaFuncAttributes&)) {
  int device = 0, major = 0;
  cudaFuncAttributes attr{};
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      attributes(attr) != cudaSuccess) {
    cudaGetLastError();  // leave no error pending for the next launch check
    return false;
  }
  return major >= 8 && attr.ptxVersion >= 80;
}

// Where a kernel goes: a stream (a cudaStream_t converts to a plain launch on it), and whether it may
// launch early (a hint: ignored where early_launch_supported() is false). Early launches capture into
// CUDA Graphs as programmatic edges.
struct Launch {
  cudaStream_t stream = nullptr;
  bool early = false;
  Launch(cudaStream_t s = nullptr, bool e = false) : stream(s), early(e) {}  // implicit: a stream is a Launch
};

// kernel<<<grid, block, smem, on.stream>>>(args...), early where asked and supported. Returns the launch
// error (and clears it).
template <class... P, class... A>
cudaError_t launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t smem, const Launch& on, A&&... args) {
  cudaLaunchAttribute early{};
  early.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  early.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = on.stream;
  config.attrs = &early;
  config.numAttrs = on.early && early_launch_supported() ? 1 : 0;
  const cudaError_t e = cudaLaunchKernelEx(&config, kernel, std::forward<A>(args)...);
  const cudaError_t last = cudaGetLastError();
  return e != cudaSuccess ? e : last;
}

}  // namespace skippy::cuda
