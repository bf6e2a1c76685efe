#pragma once
// Host emulation of the CUDA execution model, for checking kernels' indexing, barriers and merges on a
// machine without a GPU (test/emulation/README.md). Included by the patched copies of the CUDA headers
// that patch_headers.py writes, after <cuda_runtime.h>: each block's threads run as fibers on one host
// thread (blocks one at a time, in random order; between two barriers the threads run one after another,
// in rounds of a fresh random order), __syncthreads is a barrier, warp shuffles go through
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

// Switching between fibers: on x86-64 a hand-written switch of the callee-saved registers and the stack
// pointer (ucontext's swapcontext also saves the signal mask, a system call at every switch, which took
// half the time); elsewhere ucontext. The fibers share the floating-point control words: no kernel
// changes them.
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
  movq %rsp, (%rdi)
  movq %rsi, %rsp
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
  // A fresh fiber's stack as the switch leaves a suspended one: six registers, then `start` as the
  // return address at a 16-byte boundary (so `start` begins as if called).
  void prepare(char* stack, std::size_t bytes, void (*start)()) {
    auto top = reinterpret_cast<std::uintptr_t>(stack + bytes) & ~std::uintptr_t{15};
    auto* frame = reinterpret_cast<std::uint64_t*>(top - 16);  // [0]: start, [1]: never read
    frame[0] = reinterpret_cast<std::uint64_t>(start);
    frame -= 6;
    std::memset(frame, 0, 6 * sizeof *frame);
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
// returns, then switches straight to the next runnable one. The runnable fibers run in rounds, each in a
// fresh random order; those a barrier releases run in the next round. Fibers switch in user space, where
// host threads meeting at barriers spent most of their time in the kernel's futexes.
class Fibers {
 public:
  static constexpr std::size_t stack_bytes = std::size_t{1} << 20, guard_bytes = 4096;

  // Runs body(t) for t in [0, n) as one block's threads; a deadlock (every unfinished thread waiting at a
  // barrier that cannot complete) is reported and aborts.
  void run(int n, const std::function<void(int)>& body) {
    while (static_cast<int>(fibers_.size()) < n) fibers_.push_back(std::make_unique<Fiber>());
    body_ = &body;
    round_.clear();
    next_.clear();
    position_ = 0;
    finished_ = 0;
    for (int t = 0; t < n; ++t) {
      Fiber& f = *fibers_[static_cast<std::size_t>(t)];
      // Stack tops 1 MB apart would share cache sets: each starts 1088 bytes further down than the last.
      const std::size_t colour = static_cast<std::size_t>(t) % 60 * 1088;
      f.context.prepare(f.stack + guard_bytes, stack_bytes - colour, &Fibers::entry);
      next_.push_back(t);
    }
    resume(scheduler_, pick());  // back here when no fiber can run
    if (finished_ < n) {
      std::fprintf(stderr, "emulation: deadlock: %d of %d threads wait at barriers that cannot complete\n",
                   n - finished_, n);
      std::abort();
    }
  }

  // The running fiber waits until `count` fibers have arrived at `waiters`' barrier (the last to arrive
  // goes on without a switch).
  void wait(std::vector<int>& waiters, int count) {
    if (static_cast<int>(waiters.size()) + 1 == count) {
      next_.insert(next_.end(), waiters.begin(), waiters.end());
      waiters.clear();
      return;
    }
    const int self = current_;
    waiters.push_back(self);
    resume(fibers_[static_cast<std::size_t>(self)]->context, pick());
  }

 private:
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
  };
  static void entry();

  // The next runnable fiber (-1: none), starting a new round in a fresh random order when one ends.
  int pick() {
    if (position_ == round_.size()) {
      round_.swap(next_);
      next_.clear();
      position_ = 0;
      for (std::size_t i = round_.size(); i > 1; --i) std::swap(round_[i - 1], round_[next_random() % i]);
    }
    return position_ < round_.size() ? round_[position_++] : -1;
  }
  // Saves the running context into `from` and resumes fiber t (the scheduler where t < 0).
  void resume(Context& from, int t) {
    if (t < 0) return Context::swap(from, scheduler_);
    current_ = t;
    threadIdx = uint3{static_cast<unsigned>(t), 0, 0};
    Context::swap(from, fibers_[static_cast<std::size_t>(t)]->context);
  }
  // splitmix64, cheaper than std::shuffle over block_order.
  std::uint64_t next_random() {
    std::uint64_t z = (random_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  std::vector<std::unique_ptr<Fiber>> fibers_;
  std::uint64_t random_ = 12345;
  std::vector<int> round_, next_;  // the round's order (from position_ on: yet to run); the next round's
  std::size_t position_ = 0;
  int finished_ = 0;
  Context scheduler_;
  const std::function<void(int)>* body_ = nullptr;
  int current_ = 0;
};
inline Fibers fibers;
// A fiber's first frame: the thread's body, then on to the next fiber for good.
inline void Fibers::entry() {
  const int t = fibers.current_;
  (*fibers.body_)(t);
  ++fibers.finished_;
  fibers.resume(fibers.fibers_[static_cast<std::size_t>(t)]->context, fibers.pick());
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
  std::uint32_t exchange[2][32][32];  // [buffer][warp][lane] (warp_exchange)
  unsigned char parity[1024];         // each thread's next buffer
};
inline Block* block;
}  // namespace skippy::emulation

inline void __syncthreads() { skippy::emulation::block->all->arrive_and_wait(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline int atomicCAS(int* p, int compare, int v) {
  __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;  // the old value
}
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
namespace skippy::emulation {
// One exchange among the running thread's warp: each lane leaves 4 bytes and reads the warp's 32 slots
// after the warp's barrier. Two buffers alternate, so one barrier suffices: a lane writes a buffer again
// only after the next exchange's barrier, which every lane reaches after reading this one.
template <class T>
const std::uint32_t* warp_exchange(T v) {
  static_assert(sizeof(T) == sizeof(std::uint32_t), "emulated warp shuffles: 4-byte values only");
  auto& b = *block;
  const int t = static_cast<int>(threadIdx.x), w = t / 32, l = t % 32, k = b.parity[t] ^= 1;
  std::memcpy(&b.exchange[k][w][l], &v, sizeof v);
  b.warp[w]->arrive_and_wait();
  return b.exchange[k][w];
}
template <class T>
T lane_value(const std::uint32_t* slots, int lane) {
  T r;
  std::memcpy(&r, &slots[lane & 31], sizeof r);
  return r;
}
}  // namespace skippy::emulation

inline float __shfl_xor_sync(unsigned, float v, int lane_mask) {
  const int l = static_cast<int>(threadIdx.x) % 32;
  return skippy::emulation::lane_value<float>(skippy::emulation::warp_exchange(v), l ^ lane_mask);
}

// Bit l: lane l's predicate (every lane of the warp takes part).
inline unsigned __ballot_sync(unsigned, bool v) {
  const std::uint32_t* slots = skippy::emulation::warp_exchange(std::uint32_t{v ? 1u : 0u});
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= slots[i] << i;
  return r;
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }

// Any 4-byte value from lane src of the warp (the integer tensor-core fallback's exchanges).
template <class T>
T __shfl_sync(unsigned, T v, int src) {
  return skippy::emulation::lane_value<T>(skippy::emulation::warp_exchange(v), src);
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
// A stream capture's work, replayed by cudaGraphLaunch: every launch, copy and fill in issue order (a
// chain, as one stream's capture is). Work issued outside a capture runs before its call returns.
struct Graph {
  std::vector<std::function<void()>> ops;
};
inline Graph* capturing = nullptr;
inline void issue(std::function<void()> op) {
  if (capturing != nullptr) capturing->ops.push_back(std::move(op));
  else op();
}

// The whole grid, block after block in a random order (no kernel may rely on an order of blocks), each
// block's threads running thread().
inline void run_grid(dim3 grid, dim3 threads, const std::function<void()>& thread) {
  gridDim = grid;
  blockDim = threads;
  const int blocks = static_cast<int>(grid.x * grid.y * grid.z), n = static_cast<int>(threads.x);
  std::vector<int> order(static_cast<std::size_t>(blocks));
  for (int i = 0; i < blocks; ++i) order[static_cast<std::size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), block_order);
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
    fibers.run(n, [&](int) { thread(); });
  }
}

// launch() of the patched launch.cuh: the grid runs before it returns, or is recorded in a capture.
template <class... P, class... A>
cudaError_t launch(dim3 grid, dim3 threads, void (*kernel)(P...), A&&... args) {
  issue([grid, threads, kernel, params = std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)] {
    run_grid(grid, threads, [&] { std::apply(kernel, params); });
  });
  return cudaSuccess;
}

// kernel<<<grid, threads, bytes, stream>>>(args); in the patched sources (patch_headers.py):
// Chevron(grid, threads, bytes, stream).run([&] { kernel(args); }). Its arguments are evaluated by each
// thread, so it cannot be recorded in a capture.
struct Chevron {
  dim3 grid, threads;
  Chevron(dim3 g, dim3 t, std::size_t = 0, cudaStream_t = nullptr) : grid(g), threads(t) {}
  void run(const std::function<void()>& thread) const {
    if (capturing != nullptr) {
      std::fprintf(stderr, "emulation: a <<<>>> launch in a stream capture is not emulated\n");
      std::abort();
    }
    run_grid(grid, threads, thread);
  }
};

// The runtime calls the library makes, on host memory. Fresh allocations hold 0xcd bytes (not zeros).
inline cudaError_t malloc(void** p, std::size_t n) {
  // An allocation the host cannot make fails as the device's would (a test asks for 2^50 floats).
  const std::size_t size = n > (std::size_t{1} << 48) ? 0 : (n + 255) / 256 * 256 + 256;
  *p = size == 0 ? nullptr : std::aligned_alloc(256, size);
  if (*p == nullptr) return cudaErrorMemoryAllocation;
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
template <class... A>
cudaError_t memcpy_async(void* d, const void* s, std::size_t n, cudaMemcpyKind, A...) {
  issue([=] { std::memcpy(d, s, n); });
  return cudaSuccess;
}
template <class... A>
cudaError_t memset_async(void* d, int v, std::size_t n, A...) {
  issue([=] { std::memset(d, v, n); });
  return cudaSuccess;
}

// Streams and events are tokens: work runs when issued, so synchronising has nothing to wait for, and
// every elapsed time is 0.
template <class Handle, class... A>
cudaError_t token_create(Handle* h, A...) {
  *h = reinterpret_cast<Handle>(new char);
  return cudaSuccess;
}
template <class Handle>
cudaError_t token_destroy(Handle h) {
  delete reinterpret_cast<char*>(h);
  return cudaSuccess;
}
// A test's stand-in for a kernel's fault, surfacing where a GPU's would: the stream synchronisation after
// `after` more of them returns e, once (cudaSuccess: none).
inline cudaError_t injected_sync_error = cudaSuccess;
inline int syncs_before_fault = 0;
inline void inject_sync_error(cudaError_t e, int after = 0) {
  injected_sync_error = e;
  syncs_before_fault = after;
}
inline cudaError_t stream_synchronize(cudaStream_t) {
  if (capturing != nullptr) return cudaErrorStreamCaptureUnsupported;
  if (injected_sync_error == cudaSuccess || syncs_before_fault-- > 0) return cudaSuccess;
  const cudaError_t e = injected_sync_error;
  injected_sync_error = cudaSuccess;
  return e;
}
template <class... A>
cudaError_t event_record(cudaEvent_t, A...) {
  return cudaSuccess;
}
inline cudaError_t event_elapsed_time(float* ms, cudaEvent_t, cudaEvent_t) {
  *ms = 0.0f;
  return cudaSuccess;
}

// Graphs: a capture records the stream's work (Graph) and a launch replays it.
inline cudaError_t begin_capture(cudaStream_t s, cudaStreamCaptureMode) {
  if (s == cudaStreamLegacy) return cudaErrorStreamCaptureUnsupported;  // as the runtime answers
  if (capturing != nullptr) return cudaErrorIllegalState;
  capturing = new Graph;
  return cudaSuccess;
}
inline cudaError_t end_capture(cudaStream_t, cudaGraph_t* g) {
  if (capturing == nullptr) return cudaErrorIllegalState;
  *g = reinterpret_cast<cudaGraph_t>(capturing);
  capturing = nullptr;
  return cudaSuccess;
}
template <class... A>
cudaError_t graph_instantiate(cudaGraphExec_t* e, cudaGraph_t g, A...) {
  *e = reinterpret_cast<cudaGraphExec_t>(new Graph(*reinterpret_cast<Graph*>(g)));
  return cudaSuccess;
}
inline cudaError_t graph_launch(cudaGraphExec_t e, cudaStream_t) {
  if (capturing != nullptr) return cudaErrorStreamCaptureUnsupported;
  for (auto& op : reinterpret_cast<Graph*>(e)->ops) op();
  return cudaSuccess;
}
inline cudaError_t graph_destroy(cudaGraph_t g) {
  delete reinterpret_cast<Graph*>(g);
  return cudaSuccess;
}
inline cudaError_t graph_exec_destroy(cudaGraphExec_t e) {
  delete reinterpret_cast<Graph*>(e);
  return cudaSuccess;
}
// A captured graph is a chain of its recorded work, with no programmatic edge (no early launches).
inline cudaError_t graph_get_nodes(cudaGraph_t g, cudaGraphNode_t* nodes, std::size_t* n) {
  if (nodes != nullptr) return cudaErrorNotSupported;
  *n = reinterpret_cast<Graph*>(g)->ops.size();
  return cudaSuccess;
}
inline cudaError_t graph_get_edges(cudaGraph_t g, cudaGraphNode_t* from, cudaGraphNode_t* to, cudaGraphEdgeData* data,
                                   std::size_t* n) {
  const std::size_t ops = reinterpret_cast<Graph*>(g)->ops.size(), edges = ops > 0 ? ops - 1 : 0;
  if (from == nullptr && to == nullptr && data == nullptr) {
    *n = edges;
    return cudaSuccess;
  }
  if (*n < edges) return cudaErrorInvalidValue;
  for (std::size_t i = 0; i < edges; ++i) {
    if (from != nullptr) from[i] = reinterpret_cast<cudaGraphNode_t>(i + 1);
    if (to != nullptr) to[i] = reinterpret_cast<cudaGraphNode_t>(i + 2);
    if (data != nullptr) data[i] = cudaGraphEdgeData{};
  }
  *n = edges;
  return cudaSuccess;
}
inline cudaError_t get_device(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t device_count(int* n) {
  *n = 1;
  return cudaSuccess;
}
// An sm_90 device with 227 KB of opt-in shared memory per block and 132 multiprocessors.
inline cudaError_t attribute(int* v, cudaDeviceAttr a, int) {
  *v = a == cudaDevAttrMaxSharedMemoryPerBlockOptin ? 232448
       : a == cudaDevAttrComputeCapabilityMajor     ? 9
       : a == cudaDevAttrMultiProcessorCount        ? 132
                                                    : 0;
  return cudaSuccess;
}
template <class F>
cudaError_t set_function_attribute(F, cudaFuncAttribute, int) {
  return cudaSuccess;
}
template <class F>
cudaError_t function_attributes(cudaFuncAttributes* a, F) {
  *a = {};  // no static shared memory counted (it is static storage here)
  a->ptxVersion = a->binaryVersion = 90;  // built for sm_90: the tensor-core paths run, over shim.hpp's instructions
  a->maxThreadsPerBlock = 1024;
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
#define cudaMemcpyAsync skippy::emulation::memcpy_async
#define cudaMemsetAsync skippy::emulation::memset_async
#define cudaStreamCreate skippy::emulation::token_create
#define cudaStreamCreateWithFlags skippy::emulation::token_create
#define cudaStreamDestroy skippy::emulation::token_destroy
#define cudaStreamSynchronize skippy::emulation::stream_synchronize
#define cudaEventCreate skippy::emulation::token_create
#define cudaEventDestroy skippy::emulation::token_destroy
#define cudaEventRecord skippy::emulation::event_record
#define cudaEventRecordWithFlags skippy::emulation::event_record
#define cudaEventElapsedTime skippy::emulation::event_elapsed_time
#define cudaStreamBeginCapture skippy::emulation::begin_capture
#define cudaStreamEndCapture skippy::emulation::end_capture
#define cudaGraphInstantiate skippy::emulation::graph_instantiate
#define cudaGraphLaunch skippy::emulation::graph_launch
#define cudaGraphDestroy skippy::emulation::graph_destroy
#define cudaGraphExecDestroy skippy::emulation::graph_exec_destroy
#define cudaGraphGetNodes skippy::emulation::graph_get_nodes
#define cudaGraphGetEdges skippy::emulation::graph_get_edges
