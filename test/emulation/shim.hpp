#pragma once
// Host emulation of the CUDA execution model, for checking kernels' indexing, barriers and merges on a
// machine without a GPU (test/emulation/README.md). Included by the patched copies of the CUDA headers
// that patch_headers.py writes, after <cuda_runtime.h>: each block's threads run as fibers on one host
// thread (blocks one at a time, in random order; between two barriers the threads run one after another,
// in a random order drawn afresh at every barrier), __syncthreads is a barrier, warp shuffles go through
// an exchange array, __shared__ variables are static (patch_headers.py), and the runtime calls the library
// makes work on host memory. Device math is the host's (no FMA contraction, host expf): compare bits only
// against other emulated runs or host accounts of the same operations.

#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <tuple>
#include <type_traits>
#include <vector>

#define __launch_bounds__(...)
inline void __trap() { std::abort(); }

inline uint3 threadIdx, blockIdx;  // the running fiber's (the scheduler sets them before it resumes one)
inline dim3 blockDim, gridDim;

namespace skippy::emulation {
inline std::mt19937 block_order{12345};

// Switching between fibers: on x86-64 a hand-written switch of the callee-saved registers, the stack
// pointer and the floating-point control words (ucontext's swapcontext also saves the signal mask, a
// system call at every switch, which took half the time); elsewhere ucontext.
#if defined(__x86_64__) && !defined(SKIPPY_EMULATION_UCONTEXT)
extern "C" void skippy_emulation_switch(void** save, void* load);  // saves into *save, resumes load
asm(R"(
  .pushsection .text
  .weak skippy_emulation_switch
  .type skippy_emulation_switch, @function
skippy_emulation_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size skippy_emulation_switch, .-skippy_emulation_switch
  .popsection
)");
struct Context {
  void* sp = nullptr;
  // A fresh fiber's stack as the switch leaves a suspended one: the control words, six registers, and
  // `start` as the return address, at a 16-byte boundary (so `start` begins as if called).
  void prepare(char* stack, std::size_t bytes, void (*start)()) {
    auto top = reinterpret_cast<std::uintptr_t>(stack + bytes) & ~std::uintptr_t{15};
    auto* frame = reinterpret_cast<std::uint64_t*>(top - 16);  // [0]: start, [1]: never read
    frame[0] = reinterpret_cast<std::uint64_t>(start);
    frame -= 7;
    std::memset(frame, 0, 7 * sizeof *frame);
    std::uint32_t mxcsr;
    std::uint16_t fpucw;
    asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fpucw));
    std::memcpy(frame, &mxcsr, 4);
    std::memcpy(reinterpret_cast<char*>(frame) + 4, &fpucw, 2);
    sp = frame;
  }
  static void swap(Context& from, Context& to) { skippy_emulation_switch(&from.sp, to.sp); }
};
#else
struct Context {
  ucontext_t uc{};
  void prepare(char* stack, std::size_t bytes, void (*start)()) {
    getcontext(&uc);
    uc.uc_stack.ss_sp = stack;
    uc.uc_stack.ss_size = bytes;
    uc.uc_link = nullptr;  // start never returns
    makecontext(&uc, start, 0);
  }
  static void swap(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
};
#endif

// A block's threads as fibers on the calling host thread. A fiber runs until it waits at a barrier or
// returns; the scheduler then resumes the runnable ones in a fresh random order. Fibers switch in user
// space, where host threads meeting at barriers spent most of their time in the kernel's futexes.
class Fibers {
 public:
  static constexpr std::size_t stack_bytes = std::size_t{1} << 20, guard_bytes = 4096;

  // Runs body(t) for t in [0, n) as one block's threads; a deadlock (every unfinished thread waiting at a
  // barrier that cannot complete) is reported and aborts.
  void run(int n, const std::function<void(int)>& body) {
    while (static_cast<int>(fibers_.size()) < n) fibers_.push_back(std::make_unique<Fiber>());
    body_ = &body;
    for (int t = 0; t < n; ++t) {
      Fiber& f = *fibers_[static_cast<std::size_t>(t)];
      f.context.prepare(f.stack + guard_bytes, stack_bytes, &Fibers::entry);
      f.state = State::runnable;
    }
    std::vector<int> order;
    for (int finished = 0; finished < n;) {
      order.clear();
      for (int t = 0; t < n; ++t)
        if (fibers_[static_cast<std::size_t>(t)]->state == State::runnable) order.push_back(t);
      if (order.empty()) {
        std::fprintf(stderr, "emulation: deadlock: %d of %d threads wait at barriers that cannot complete\n",
                     n - finished, n);
        std::abort();
      }
      std::shuffle(order.begin(), order.end(), block_order);
      for (int t : order) {
        Fiber& f = *fibers_[static_cast<std::size_t>(t)];
        if (f.state != State::runnable) continue;
        current_ = t;
        threadIdx = uint3{static_cast<unsigned>(t), 0, 0};
        Context::swap(scheduler_, f.context);
        if (f.state == State::finished) ++finished;
      }
    }
  }

  // The running fiber waits until `count` fibers have arrived at `waiters`' barrier (the last to arrive
  // goes on without a switch).
  void wait(std::vector<int>& waiters, int count) {
    if (static_cast<int>(waiters.size()) + 1 == count) {
      for (int t : waiters) fibers_[static_cast<std::size_t>(t)]->state = State::runnable;
      waiters.clear();
      return;
    }
    const int self = current_;
    Fiber& f = *fibers_[static_cast<std::size_t>(self)];
    waiters.push_back(self);
    f.state = State::waiting;
    Context::swap(f.context, scheduler_);
    threadIdx = uint3{static_cast<unsigned>(self), 0, 0};
  }

 private:
  enum class State { runnable, waiting, finished };
  struct Fiber {
    Fiber() {
      void* p = mmap(nullptr, stack_bytes + guard_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) {
        std::perror("emulation: fiber stack");
        std::abort();
      }
      stack = static_cast<char*>(p);
      mprotect(stack, guard_bytes, PROT_NONE);  // an overflowing thread faults instead of writing its neighbour
    }
    ~Fiber() { munmap(stack, stack_bytes + guard_bytes); }
    Fiber(const Fiber&) = delete;
    Fiber& operator=(const Fiber&) = delete;
    Context context;
    char* stack = nullptr;
    State state = State::finished;
  };
  static void entry();

  std::vector<std::unique_ptr<Fiber>> fibers_;
  Context scheduler_;
  const std::function<void(int)>* body_ = nullptr;
  int current_ = 0;
};
inline Fibers fibers;
// A fiber's first frame: the thread's body, then back to the scheduler for good.
inline void Fibers::entry() {
  const int t = fibers.current_;
  (*fibers.body_)(t);
  Fiber& f = *fibers.fibers_[static_cast<std::size_t>(t)];
  f.state = State::finished;
  Context::swap(f.context, fibers.scheduler_);
  std::abort();  // a finished fiber is never resumed
}

// std::barrier's arrive_and_wait over the block's fibers.
class Barrier {
 public:
  explicit Barrier(int count) : count_(count) {}
  void arrive_and_wait() { fibers.wait(waiters_, count_); }

 private:
  int count_;
  std::vector<int> waiters_;
};

struct Block {
  Barrier* all;
  Barrier* warp[32];
  float exchange[32][32];
};
inline Block* block;
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
    Barrier all(n);
    std::vector<std::unique_ptr<Barrier>> warps;
    Block shared{};
    shared.all = &all;
    for (int w = 0; w < (n + 31) / 32; ++w) {
      warps.push_back(std::make_unique<Barrier>(std::min(32, n - 32 * w)));
      shared.warp[w] = warps.back().get();
    }
    blockIdx = uint3{static_cast<unsigned>(b) % grid.x, static_cast<unsigned>(b) / grid.x % grid.y,
                     static_cast<unsigned>(b) / (grid.x * grid.y)};
    block = &shared;
    fibers.run(n, [&](int) { std::apply(kernel, params); });
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
