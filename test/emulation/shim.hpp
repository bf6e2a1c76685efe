#pragma once
// Host emulation of the CUDA execution model, for checking kernels' indexing, barriers and merges on a
// machine without a GPU (test/emulation/README.md). Included by the patched copies of the CUDA headers
// that patch_headers.py writes, after <cuda_runtime.h>: each block's threads run as std::threads (blocks
// one at a time, in random order), __syncthreads is a barrier, warp shuffles go through an exchange
// array, __shared__ variables are static (patch_headers.py), and the runtime calls the library makes work
// on host memory. Device math is the host's (no FMA contraction, host expf): compare bits only against
// other emulated runs or host accounts of the same operations.

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#define __launch_bounds__(...)
inline void __trap() { std::abort(); }

inline thread_local uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

namespace skippy::emulation {
struct Block {
  std::barrier<>* all;
  std::barrier<>* warp[32];
  float exchange[32][32];
};
inline thread_local Block* block;
inline std::mt19937 block_order{12345};
}  // namespace skippy::emulation

inline void __syncthreads() { skippy::emulation::block->all->arrive_and_wait(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicExch(unsigned long long* p, unsigned long long v) {
  return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) {
  unsigned long long old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}
inline unsigned __float_as_uint(float v) {
  unsigned u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}
using std::isfinite;
template <class T>
T __ldcg(const T* p) {
  return *p;
}
template <class T>
T __ldg(const T* p) {
  return *p;
}
inline float __shfl_xor_sync(unsigned, float v, int lane_mask) {
  auto& b = *skippy::emulation::block;
  const int t = static_cast<int>(threadIdx.x), w = t / 32, l = t % 32;
  b.exchange[w][l] = v;
  b.warp[w]->arrive_and_wait();
  const float r = b.exchange[w][l ^ lane_mask];
  b.warp[w]->arrive_and_wait();
  return r;
}

// Bit l: lane l's predicate (every lane of the warp takes part).
inline unsigned __ballot_sync(unsigned, bool v) {
  auto& b = *skippy::emulation::block;
  const int t = static_cast<int>(threadIdx.x), w = t / 32, l = t % 32;
  b.exchange[w][l] = v ? 1.0f : 0.0f;
  b.warp[w]->arrive_and_wait();
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= (b.exchange[w][i] != 0.0f ? 1u : 0u) << i;
  b.warp[w]->arrive_and_wait();
  return r;
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }

// Any 4-byte value from lane src of the warp (the integer tensor-core fallback's exchanges).
template <class T>
T __shfl_sync(unsigned, T v, int src) {
  static_assert(sizeof(T) == sizeof(float), "emulated __shfl_sync: 4-byte values only");
  auto& b = *skippy::emulation::block;
  const int t = static_cast<int>(threadIdx.x), w = t / 32, l = t % 32;
  std::memcpy(&b.exchange[w][l], &v, sizeof v);
  b.warp[w]->arrive_and_wait();
  T r;
  std::memcpy(&r, &b.exchange[w][src & 31], sizeof r);
  b.warp[w]->arrive_and_wait();
  return r;
}

// The TF32 warp matrix operations of kernels::gemm_tf32 (<mma.h>'s nvcuda::wmma, the shapes it uses):
// every lane holds the whole tile and does the warp's operation on its own copy; lane 0 alone stores.
// Products are summed in k order in float (the tensor cores' order is not documented: compare against
// a host account with a tolerance, not bits).
namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };
template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {  // A: M x K at [m][k]; B: K x N at [k][n]; the accumulator M x N at [m][n]
  static constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;
  float x[rows * cols];
};
template <class F>
void fill_fragment(F& f, float v) {
  for (float& e : f.x) e = v;
}
template <class Use, int M, int N, int K, class T, class Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const float* p, unsigned ld) {
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] = std::is_same_v<Layout, row_major> ? p[r * ld + c] : p[c * ld + r];
}
template <int M, int N, int K, class LA, class LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, precision::tf32, LA>& a,
              const fragment<matrix_b, M, N, K, precision::tf32, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  fragment<accumulator, M, N, K, float> out;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float sum = c.x[i * N + j];
      for (int k = 0; k < K; ++k) sum += a.x[i * K + k] * b.x[k * N + j];
      out.x[i * N + j] = sum;
    }
  d = out;
}
template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ld, layout_t layout) {
  if (threadIdx.x % 32 != 0) return;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) (layout == mem_row_major ? p[i * ld + j] : p[j * ld + i]) = f.x[i * N + j];
}
// cvt.rna.tf32.f32: 10 mantissa bits, to nearest, ties away from zero (finite values).
inline float __float_to_tf32(float v) {
  unsigned u;
  std::memcpy(&u, &v, sizeof u);
  u = (u + 0x1000u) & ~0x1fffu;
  std::memcpy(&v, &u, sizeof v);
  return v;
}
}  // namespace nvcuda::wmma

namespace skippy::emulation {
// launch() of the patched launch.cuh: the whole grid, block after block, before it returns.
template <class... P, class... A>
cudaError_t launch(dim3 grid, dim3 threads, void (*kernel)(P...), A&&... args) {
  gridDim = grid;
  blockDim = threads;
  const int blocks = static_cast<int>(grid.x * grid.y * grid.z), n = static_cast<int>(threads.x);
  std::vector<int> order(static_cast<std::size_t>(blocks));
  for (int i = 0; i < blocks; ++i) order[static_cast<std::size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), block_order);  // no kernel may rely on an order of blocks
  std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
  for (int b : order) {
    std::barrier<> all(n);
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    Block shared{};
    shared.all = &all;
    for (int w = 0; w < (n + 31) / 32; ++w) {
      warps.push_back(std::make_unique<std::barrier<>>(std::min(32, n - 32 * w)));
      shared.warp[w] = warps.back().get();
    }
    std::vector<std::thread> ts;
    for (int t = 0; t < n; ++t)
      ts.emplace_back([&, t] {
        threadIdx = uint3{static_cast<unsigned>(t), 0, 0};
        blockIdx = uint3{static_cast<unsigned>(b) % grid.x, static_cast<unsigned>(b) / grid.x % grid.y,
                         static_cast<unsigned>(b) / (grid.x * grid.y)};
        block = &shared;
        std::apply(kernel, params);
      });
    for (auto& th : ts) th.join();
  }
  return cudaSuccess;
}

// The runtime calls the library makes, on host memory. Fresh allocations hold 0xcd bytes (not zeros).
inline cudaError_t malloc(void** p, std::size_t n) {
  const std::size_t size = (n + 255) / 256 * 256 + 256;
  *p = std::aligned_alloc(256, size);
  std::memset(*p, 0xcd, size);
  return cudaSuccess;
}
template <class T>
cudaError_t malloc(T** p, std::size_t n) {
  return malloc(reinterpret_cast<void**>(p), n);
}
inline cudaError_t free(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t memcpy(void* d, const void* s, std::size_t n, cudaMemcpyKind) {
  std::memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t memset(void* d, int v, std::size_t n) {
  std::memset(d, v, n);
  return cudaSuccess;
}
inline cudaError_t success() { return cudaSuccess; }
inline cudaError_t get_device(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t device_count(int* n) {
  *n = 1;
  return cudaSuccess;
}
// An sm_90 device with 227 KB of opt-in shared memory per block.
inline cudaError_t attribute(int* v, cudaDeviceAttr a, int) {
  *v = a == cudaDevAttrMaxSharedMemoryPerBlockOptin ? 232448 : a == cudaDevAttrComputeCapabilityMajor ? 9 : 0;
  return cudaSuccess;
}
template <class F>
cudaError_t set_function_attribute(F, cudaFuncAttribute, int) {
  return cudaSuccess;
}
template <class F>
cudaError_t function_attributes(cudaFuncAttributes* a, F) {
  *a = {};
  return cudaSuccess;
}
}  // namespace skippy::emulation

#define cudaMalloc skippy::emulation::malloc
#define cudaFree skippy::emulation::free
#define cudaMemcpy skippy::emulation::memcpy
#define cudaMemset skippy::emulation::memset
#define cudaDeviceSynchronize skippy::emulation::success
#define cudaGetLastError skippy::emulation::success
#define cudaGetDevice skippy::emulation::get_device
#define cudaGetDeviceCount skippy::emulation::device_count
#define cudaDeviceGetAttribute skippy::emulation::attribute
#define cudaFuncSetAttribute skippy::emulation::set_function_attribute
#define cudaFuncGetAttributes skippy::emulation::function_attributes
