#pragma once
// CUDA kernels of group-robust preference optimization: the same formulas as host.hpp and
// sequence_logprob.hpp (formulas.hpp), on device memory.
//
// Entry points take raw device pointers and a stream and return cudaError_t (launch errors). What the host
// knows is checked before any launch and throws skippy::Error with the host kernels' messages: beta, chi,
// eta_alpha, negative sizes, a null status. Bad data in device memory (a group id out of range, a
// non-finite log-probability or group loss, a margin or loss that overflows Real, an alpha that is negative
// or not finite, a negative group count or counts summing past INT_MAX, a mirror-ascent exponent that
// overflows double, a target id out of range, non-finite logits, a non-finite coef or lse) is recorded on
// the device in a DeviceStatus by whichever entry point meets it; check_status() reads it back on the host
// and throws skippy::Error with the sample/position and value, as the host kernels do. Each kernel reports
// the fault the host's checks name first (their order of fields, the lowest index), not whichever thread
// or block wins a race: a multi-block kernel flags a 64-bit order key with atomicMax on its complement,
// and a one-thread kernel launched after it turns the lowest key into the report. Across the kernels of a
// step the first kernel's report stands.
// Lengths are the caller's sizes here, so "mismatched lengths" cannot arise below this boundary.
//
// Reductions are deterministic: per-group sums use one block per group (cub::BlockReduce over a fixed
// thread-to-sample mapping), the group-weight update runs in one block, and a response's log-probability is
// summed over its positions in order by one block. Results differ from the host's sequential sums only by
// rounding (the summation order differs).

#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>

#include <climits>
#include <cstdint>

#include "../core/error.hpp"
#include "formulas.hpp"
#include "host.hpp"
#include "policy.hpp"
#include "sequence_logprob.hpp"

// Namespace `device` (not `cuda`, which would clash with libcu++'s ::cuda under using-directives).
namespace skippy::grpo::device {

enum StatusCode : int {
  status_ok = 0,
  status_group_out_of_range = 1,
  status_nonfinite_logprob = 2,
  status_target_out_of_range = 3,
  status_nonfinite_logits = 4,
  status_nonfinite_group_loss = 5,
  status_bad_alpha = 6,
  status_exponent_overflow = 7,
  status_negative_count = 8,
  status_nonfinite_loss = 9,
  status_count_overflow = 10,
  status_nonfinite_coef = 11,
  status_nonfinite_lse = 12,
};

// Written by the kernels; zero it (reset_status) before a step.
struct DeviceStatus {
  int code;   // StatusCode
  int index;  // sample index, response index for the sequence kernels, group for the weights and counts
  int value;  // the bad group/target id, the field (0 policy_chosen, 1 policy_rejected, 2 reference_chosen,
              // 3 reference_rejected), or the position of non-finite logits
  int extra;  // position for target errors
  unsigned long long pending;  // ~key of the lowest fault a multi-block kernel flagged, until resolved (0: none)
};

inline constexpr int block_threads = 256;

namespace detail {

__device__ inline void report(DeviceStatus* s, int code, int index, int value, int extra) {
  if (s && atomicCAS(&s->code, 0, code) == 0) {
    s->index = index;
    s->value = value;
    s->extra = extra;
  }
}

// Multi-block kernels: the lowest key wins whatever the blocks' order (key != ~0, so 0 means none).
__device__ inline void flag(DeviceStatus* s, unsigned long long key) {
  if (s) atomicMax(&s->pending, ~key);
}

// The order keys. Samples: the host checks the group ids, then each field over all samples, then each
// sample's margin and loss (sample_losses); the group ids, then the counts (gradient_coefficients).
__host__ __device__ constexpr unsigned long long sample_key(int rank, std::int64_t i) {
  return (static_cast<unsigned long long>(rank) << 32) | static_cast<unsigned>(i);
}
inline constexpr int rank_group = 0;  // rank 1 + f: field f not finite
inline constexpr int rank_loss = 5, rank_count = 6;
// Responses: position by position (p = b * length + t). The backward pass checks a response's coef before
// its positions (keyed at its first position), then per position the target before the lse; the forward
// pass the target before the logits.
__host__ __device__ constexpr unsigned long long position_key(std::int64_t p, int kind) {
  return (static_cast<unsigned long long>(p) << 2) | static_cast<unsigned>(kind);
}
inline constexpr int kind_coef = 0, kind_target = 1, kind_nonfinite = 2;

// The pending key of the per-sample kernels as a report (one thread; an earlier kernel's report stands).
template <int = 0>  // a template: defined in a header, one copy per program
__global__ void resolve_samples_kernel(DeviceStatus* s, const int* group, const int* group_count) {
  const unsigned long long pending = s->pending;
  if (pending == 0) return;
  s->pending = 0;
  if (s->code != status_ok) return;
  const unsigned long long key = ~pending;
  const int rank = static_cast<int>(key >> 32), i = static_cast<int>(key & 0xffffffffu);
  s->index = i;
  s->extra = 0;
  if (rank == rank_group) {
    s->code = status_group_out_of_range;
    s->value = group[i];
  } else if (rank == rank_loss) {
    s->code = status_nonfinite_loss;
    s->value = 0;
  } else if (rank == rank_count) {
    s->code = status_negative_count;
    s->value = group_count[i];
  } else {
    s->code = status_nonfinite_logprob;
    s->value = rank - 1;
  }
}

// The pending key of the sequence kernels as a report; for the backward pass kind_nonfinite is the lse
// (else the logits).
template <int = 0>  // a template: defined in a header, one copy per program
__global__ void resolve_positions_kernel(DeviceStatus* s, const int* targets, int length, bool backward) {
  const unsigned long long pending = s->pending;
  if (pending == 0) return;
  s->pending = 0;
  if (s->code != status_ok) return;
  const unsigned long long key = ~pending;
  const auto p = static_cast<std::int64_t>(key >> 2);
  const int b = static_cast<int>(p / length), t = static_cast<int>(p % length);
  const int kind = static_cast<int>(key & 3u);
  s->index = b;
  s->extra = 0;
  if (kind == kind_coef) {
    s->code = status_nonfinite_coef;
    s->value = 0;
  } else if (kind == kind_target) {
    s->code = status_target_out_of_range;
    s->value = targets[p];
    s->extra = t;
  } else {
    s->code = backward ? status_nonfinite_lse : status_nonfinite_logits;
    s->value = t;
  }
}

struct MaxOp {
  template <class T>
  __device__ T operator()(const T& a, const T& b) const {
    return a > b ? a : b;
  }
};
struct MinOp {
  template <class T>
  __device__ T operator()(const T& a, const T& b) const {
    return a < b ? a : b;
  }
};

// The lowest index any thread of the block flags (INT_MAX: none flagged), to every thread. The host's
// checks go group by group and name the first bad one; a one-block kernel names the same, not the first
// thread to win report()'s race.
template <class ReduceI>
__device__ int lowest_flagged(typename ReduceI::TempStorage& tmp, int* shared, int index) {
  const int m = ReduceI(tmp).Reduce(index, MinOp{});
  if (threadIdx.x == 0) *shared = m;
  __syncthreads();
  const int r = *shared;
  __syncthreads();  // tmp and *shared free for the next reduction
  return r;
}

template <class Loss, class Real>
__global__ void sample_losses_kernel(const Real* pc, const Real* pr, const Real* rc, const Real* rr, const int* group,
                                     int n, int groups, Real beta, Real* margin, Real* loss, DeviceStatus* status) {
  // 64-bit: i + the grid's stride must not wrap for n near INT_MAX.
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int g = group[i];
    if (g < 0 || g >= groups) flag(status, sample_key(rank_group, i));
    const Real v[4] = {pc[i], pr[i], rc[i], rr[i]};
    bool finite = true;
    for (int f = 0; f < 4; ++f)
      if (!formula::finite(v[f])) {
        flag(status, sample_key(1 + f, i));
        finite = false;
      }
    const Real h = formula::margin(v[0], v[2], v[1], v[3]);
    const Real l = formula::loss<Loss>(h, beta);
    if (finite && !(formula::finite(h) && formula::finite(l))) flag(status, sample_key(rank_loss, i));
    margin[i] = h;
    loss[i] = l;
  }
}

// Sums in double whatever Real is, as the host's group_reduce. Block 0 flags group ids out of range (status
// may be null: step()'s sample_losses has checked them).
template <class Real>
__global__ void __launch_bounds__(block_threads) group_reduce_kernel(const int* group, const Real* loss, int n,
                                                                     int groups, Real* group_sum, int* group_count,
                                                                     Real* group_loss, DeviceStatus* status) {
  using ReduceD = cub::BlockReduce<double, block_threads>;
  using ReduceI = cub::BlockReduce<int, block_threads>;
  __shared__ typename ReduceD::TempStorage tmp_d;
  __shared__ typename ReduceI::TempStorage tmp_i;
  const int g = blockIdx.x;
  double s = 0.0;
  int c = 0;
  for (std::int64_t i = threadIdx.x; i < n; i += block_threads) {
    const int id = group[i];
    if (id == g) {
      s += static_cast<double>(loss[i]);
      ++c;
    } else if (g == 0 && (id < 0 || id >= groups)) {
      flag(status, sample_key(rank_group, i));
    }
  }
  const double total = ReduceD(tmp_d).Sum(s);
  const int count = ReduceI(tmp_i).Sum(c);
  if (threadIdx.x == 0) {
    group_sum[g] = static_cast<Real>(total);
    group_count[g] = count;
    group_loss[g] = static_cast<Real>(formula::group_mean(total, count));
  }
}

// One block: the mirror-ascent step (GroupRobust, in double as the host's update_alpha), the weights and the
// objective.
template <class Weighting, class Real>
__global__ void __launch_bounds__(block_threads) weights_kernel(Real* alpha, const Real* group_loss,
                                                                const int* group_count, int groups, Real chi,
                                                                bool balanced_mix, double eta, int absent_mode,
                                                                Real* weight, Real* objective, DeviceStatus* status) {
  using ReduceR = cub::BlockReduce<Real, block_threads>;
  using ReduceD = cub::BlockReduce<double, block_threads>;
  using ReduceI = cub::BlockReduce<int, block_threads>;
  using ReduceL = cub::BlockReduce<long long, block_threads>;
  __shared__ typename ReduceR::TempStorage tmp_r;
  __shared__ typename ReduceD::TempStorage tmp_d;
  __shared__ typename ReduceI::TempStorage tmp_i;
  __shared__ typename ReduceL::TempStorage tmp_l;
  __shared__ double shared_d;
  __shared__ double shared_sum;
  __shared__ int shared_i;
  const int t = threadIdx.x;
  const auto updated = [&](int g) { return absent_mode == 1 || group_count[g] > 0; };

  // In 64 bits: counts a caller passes may sum past INT_MAX (the host's group_weights refuses that too).
  long long c = 0;
  int negative = INT_MAX;  // this thread's lowest group with a negative count
  for (int g = t; g < groups; g += block_threads) {
    if (group_count[g] < 0 && negative == INT_MAX) negative = g;
    c += group_count[g];
  }
  const long long total_count = ReduceL(tmp_l).Sum(c);
  // -1 flags the overflow; a negative sum (negative counts, reported below) counts as 0.
  if (t == 0) shared_i = total_count > INT_MAX ? -1 : total_count < 0 ? 0 : static_cast<int>(total_count);
  __syncthreads();
  const bool count_overflow = shared_i < 0;
  const int count = count_overflow ? 0 : shared_i;
  // A fault an earlier kernel of the step reported (a group id out of range, a non-finite log-probability):
  // the host rejects such a batch before mirror ascent, so alpha is kept here too.
  const bool earlier_fault = status != nullptr && (status->code != status_ok || status->pending != 0);
  __syncthreads();
  const int first_negative = lowest_flagged<ReduceI>(tmp_i, &shared_i, negative);
  const auto report_negative = [&] {
    report(status, status_negative_count, first_negative, group_count[first_negative], 0);
  };

  if constexpr (Weighting::adaptive) {
    // As the host's update_alpha, in its order (alpha, then the counts, then the group losses, each lowest
    // group first): a bad one is reported and alpha kept.
    int bad_alpha = INT_MAX, bad_loss = INT_MAX;
    for (int g = t; g < groups; g += block_threads) {
      if ((!formula::finite(alpha[g]) || alpha[g] < Real(0)) && bad_alpha == INT_MAX) bad_alpha = g;
      if (!formula::finite(group_loss[g]) && bad_loss == INT_MAX) bad_loss = g;
    }
    const int first_alpha = lowest_flagged<ReduceI>(tmp_i, &shared_i, bad_alpha);
    const int first_loss = lowest_flagged<ReduceI>(tmp_i, &shared_i, bad_loss);
    if (t == 0) {
      if (first_alpha != INT_MAX) report(status, status_bad_alpha, first_alpha, 0, 0);
      else if (first_negative != INT_MAX) report_negative();
      else if (first_loss != INT_MAX) report(status, status_nonfinite_group_loss, first_loss, 0, 0);
      else if (count_overflow) report(status, status_count_overflow, 0, 0, 0);
    }
    const bool any_bad =
        first_alpha != INT_MAX || first_negative != INT_MAX || first_loss != INT_MAX || count_overflow || earlier_fault;
    // Any updated group with a positive alpha (zero ones stay zero)? And the largest exponent among them;
    // one that overflows even in double is reported (the lowest such group), alpha kept.
    const auto a = [&](int g) { return static_cast<double>(alpha[g]); };
    const auto l = [&](int g) { return static_cast<double>(group_loss[g]); };
    int any = 0, overflow = INT_MAX;
    double emax = 0.0;
    for (int g = t; g < groups; g += block_threads)
      if (updated(g) && a(g) > 0.0) {
        const double e = formula::mirror_exponent(a(g), eta, l(g));
        if (!formula::finite(e) && overflow == INT_MAX) overflow = g;
        emax = any ? (e > emax ? e : emax) : e;
        any = 1;
      }
    const int first_overflow = lowest_flagged<ReduceI>(tmp_i, &shared_i, overflow);
    if (t == 0 && first_overflow != INT_MAX && !any_bad) report(status, status_exponent_overflow, first_overflow, 0, 0);
    const int n_any = ReduceI(tmp_i).Sum(any);
    const double reduced = ReduceD(tmp_d).Reduce(any ? emax : -INFINITY, MaxOp{});
    if (t == 0) {
      shared_d = reduced;
      shared_i = n_any > 0 && first_overflow == INT_MAX ? 1 : 0;
    }
    __syncthreads();
    const double shift = shared_d;
    const bool do_update = shared_i > 0;
    __syncthreads();
    if (do_update && !any_bad) {
      double m = 0.0, u = 0.0;
      for (int g = t; g < groups; g += block_threads)
        if (updated(g)) {
          m += a(g);
          u += formula::mirror_unnormalised(a(g), eta, l(g), shift);
        }
      const double mass = ReduceD(tmp_d).Sum(m);
      __syncthreads();
      const double sum = ReduceD(tmp_d).Sum(u);
      if (t == 0) {
        shared_d = mass;
        shared_sum = sum;
      }
      __syncthreads();
      for (int g = t; g < groups; g += block_threads)
        if (updated(g))
          alpha[g] = formula::mirror_alpha<Real>(a(g), eta, l(g), shift, shared_d, shared_sum);
      __syncthreads();
    }
  } else {
    if (t == 0 && first_negative != INT_MAX) report_negative();  // as the host's group_weights
    else if (t == 0 && count_overflow) report(status, status_count_overflow, 0, 0, 0);
  }

  Real j = Real(0);
  for (int g = t; g < groups; g += block_threads) {
    const Real a = Weighting::adaptive ? alpha[g] : Real(0);
    const Real w = formula::group_weight<Weighting>(a, chi, group_count[g], count, groups, balanced_mix);
    weight[g] = w;
    j += w * group_loss[g];
  }
  const Real jt = ReduceR(tmp_r).Sum(j);
  if (t == 0) *objective = jt;
}

// A sample of a bad group id, or of a group with a negative count, gets 0 and is flagged (status may be null:
// in step() the earlier kernels have checked both).
template <class Loss, class Real>
__global__ void coefficients_kernel(const Real* margin, const int* group, int n, int groups, const Real* weight,
                                    const int* group_count, Real beta, Real* d_chosen, Real* d_rejected,
                                    DeviceStatus* status) {
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t g = first; g < groups; g += stride)  // as the host: every count, present in the batch or not
    if (group_count[g] < 0) flag(status, sample_key(rank_count, g));
  for (std::int64_t i = first; i < n; i += stride) {
    const int g = group[i];
    Real c = Real(0);
    if (g < 0 || g >= groups) {
      flag(status, sample_key(rank_group, i));
    } else if (group_count[g] >= 0) {
      c = formula::sample_scale(weight[g], group_count[g]) * formula::dloss<Loss>(margin[i], beta);
    }
    d_chosen[i] = c;
    d_rejected[i] = -c;
  }
}

// One block per response: positions in order, max and sum over the vocabulary with cub::BlockReduce.
template <class Real>
__global__ void __launch_bounds__(block_threads) sequence_logprob_kernel(const Real* logits, const int* targets,
                                                                         const std::uint8_t* mask, int length,
                                                                         int vocab, Real* logprob, Real* lse,
                                                                         DeviceStatus* status) {
  using ReduceR = cub::BlockReduce<Real, block_threads>;
  __shared__ typename ReduceR::TempStorage tmp;
  __shared__ Real shared;
  const int b = blockIdx.x;
  Real total = Real(0);
  for (int t = 0; t < length; ++t) {
    const std::int64_t p = static_cast<std::int64_t>(b) * length + t;
    if (!mask[p]) {
      if (threadIdx.x == 0) lse[p] = Real(0);
      continue;
    }
    const Real* z = logits + p * vocab;
    Real m = z[0];
    for (int v = threadIdx.x; v < vocab; v += block_threads) m = z[v] > m ? z[v] : m;
    const Real mr = ReduceR(tmp).Reduce(m, MaxOp{});
    if (threadIdx.x == 0) shared = mr;
    __syncthreads();
    const Real mx = shared;
    Real s = Real(0);
    for (int v = threadIdx.x; v < vocab; v += block_threads) s += formula::exp_shifted(z[v], mx);
    const Real sr = ReduceR(tmp).Sum(s);
    if (threadIdx.x == 0) {
      const Real l = formula::logsumexp_finish(mx, sr);
      lse[p] = l;
      const int y = targets[p];
      if (y < 0 || y >= vocab) {
        flag(status, position_key(p, kind_target));
      } else {
        if (!formula::finite(l) || !formula::finite(z[y])) flag(status, position_key(p, kind_nonfinite));
        total += z[y] - l;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) logprob[b] = total;
}

// One block per position: dlogits = coef * mask * (onehot - softmax).
template <class Real>
__global__ void __launch_bounds__(block_threads) sequence_logprob_backward_kernel(
    const Real* logits, const int* targets, const std::uint8_t* mask, const Real* lse, const Real* coef, int length,
    int vocab, Real* dlogits, DeviceStatus* status) {
  const std::int64_t p = blockIdx.x;
  const int b = static_cast<int>(p / length);
  Real* d = dlogits + p * vocab;
  const Real c = coef[b];
  const bool on = mask[p] != 0;
  const int y = on ? targets[p] : 0;  // a masked-off position's target is not read (it may be padding)
  const bool target_ok = y >= 0 && y < vocab;
  const Real l = on && target_ok ? lse[p] : Real(0);
  // The host's order: the response's coef (flagged once, at its first position), then the target, the lse.
  if (threadIdx.x == 0) {
    if (p % length == 0 && !formula::finite(c)) flag(status, position_key(p, kind_coef));
    if (on && !target_ok) flag(status, position_key(p, kind_target));
    if (on && target_ok && !formula::finite(l)) flag(status, position_key(p, kind_nonfinite));
  }
  // A flagged row is zeroed rather than left NaN or silently wrong (an infinite lse gives zeros anyway).
  if (!on || !target_ok || !formula::finite(c) || !formula::finite(l)) {
    for (int v = threadIdx.x; v < vocab; v += block_threads) d[v] = Real(0);
    return;
  }
  const Real* z = logits + p * vocab;
  for (int v = threadIdx.x; v < vocab; v += block_threads) d[v] = formula::dlogit(z[v], l, v == y, c);
}

// The weighting's parameters, checked by update_weights and, before its first launch, by step().
template <class Weighting, class Real>
void check_weighting(const typename Weighting::Params& params, const Real* alpha, const DeviceStatus* status) {
  if constexpr (Weighting::adaptive) {
    grpo::detail::check_chi(params.chi);
    grpo::detail::check_eta(params.eta_alpha);
    require(status != nullptr, "grpo::device: status must not be null (GroupRobust reports a bad alpha there)");
    require(alpha != nullptr, "grpo::device: GroupRobust needs alpha (device memory, one value per group)");
  } else {
    (void)params, (void)alpha, (void)status;
  }
}

inline int grid_for(int n) {
  const int blocks = static_cast<int>((static_cast<std::int64_t>(n) + block_threads - 1) / block_threads);
  return blocks < 1 ? 1 : (blocks > 4096 ? 4096 : blocks);
}

// After a multi-block launch: its launch error, else (with a status) the one-thread kernel that turns the
// lowest flagged key into the report.
inline cudaError_t resolve_samples(DeviceStatus* status, const int* group, const int* group_count,
                                   cudaStream_t stream) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || status == nullptr) return e;
  resolve_samples_kernel<><<<1, 1, 0, stream>>>(status, group, group_count);
  return cudaGetLastError();
}
inline cudaError_t resolve_positions(DeviceStatus* status, const int* targets, int length, bool backward,
                                     cudaStream_t stream) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  resolve_positions_kernel<><<<1, 1, 0, stream>>>(status, targets, length, backward);
  return cudaGetLastError();
}

// The launches of steps 2 and 6; with a status, the group ids (and step 6's counts) are checked and a fault
// resolved into a report. step() passes none: its sample_losses and update_weights have checked them.
template <class Real>
cudaError_t launch_group_reduce(const int* group, const Real* loss, int n, int groups, Real* group_sum,
                                int* group_count, Real* group_loss, DeviceStatus* status, cudaStream_t stream) {
  group_reduce_kernel<Real><<<groups, block_threads, 0, stream>>>(group, loss, n, groups, group_sum, group_count,
                                                                  group_loss, status);
  return resolve_samples(status, group, nullptr, stream);
}

template <class Loss, class Real>
cudaError_t launch_coefficients(const Real* margin, const int* group, int n, int groups, const Real* weight,
                                const int* group_count, Real beta, Real* d_chosen, Real* d_rejected,
                                DeviceStatus* status, cudaStream_t stream) {
  const int grid = grid_for(n > groups ? n : groups);
  coefficients_kernel<Loss, Real><<<grid, block_threads, 0, stream>>>(margin, group, n, groups, weight, group_count,
                                                                      beta, d_chosen, d_rejected, status);
  return resolve_samples(status, group, group_count, stream);
}

}  // namespace detail

// ---- entry points ---------------------------------------------------------------------------------------------

inline cudaError_t reset_status(DeviceStatus* status, cudaStream_t stream) {
  return cudaMemsetAsync(status, 0, sizeof(DeviceStatus), stream);
}

// Synchronises the stream, reads the status and throws skippy::Error if a kernel recorded bad data (or a CUDA
// call failed).
inline void check_status(const DeviceStatus* status, cudaStream_t stream) {
  DeviceStatus s{};
  cudaError_t e = cudaMemcpyAsync(&s, status, sizeof s, cudaMemcpyDeviceToHost, stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
  require(e == cudaSuccess, "grpo::device: ", cudaGetErrorString(e));
  static const char* fields[4] = {"policy_chosen", "policy_rejected", "reference_chosen", "reference_rejected"};
  switch (s.code) {
    case status_ok:
      return;
    case status_group_out_of_range:
      skippy::detail::fail("grpo: group id ", s.value, " of sample ", s.index, " is out of range (device)");
    case status_nonfinite_logprob:
      skippy::detail::fail("grpo: ", fields[s.value & 3], "[", s.index, "] is not finite (device)");
    case status_target_out_of_range:
      skippy::detail::fail("grpo: target id ", s.value, " of response ", s.index, " position ", s.extra,
                           " is out of range (device)");
    case status_nonfinite_logits:
      skippy::detail::fail("grpo: non-finite logits in response ", s.index, " position ", s.value, " (device)");
    case status_nonfinite_group_loss:
      skippy::detail::fail("grpo: group_loss[", s.index, "] is not finite (device; alpha kept)");
    case status_bad_alpha:
      skippy::detail::fail("grpo: alpha[", s.index, "] must be finite and >= 0 (device; alpha kept)");
    case status_negative_count:
      skippy::detail::fail("grpo: group_count[", s.index, "] must be >= 0, got ", s.value,
                           " (device; alpha kept, if this call updates it)");
    case status_nonfinite_loss:
      skippy::detail::fail("grpo: the margin or loss of sample ", s.index,
                           " is not finite (device): its log-probabilities are too far apart");
    case status_count_overflow:
      skippy::detail::fail("grpo: the group counts sum to more than ", INT_MAX, " (device; alpha kept)");
    case status_nonfinite_coef:
      skippy::detail::fail("grpo: coef[", s.index, "] is not finite (device)");
    case status_nonfinite_lse:
      skippy::detail::fail("grpo: lse of response ", s.index, " position ", s.value, " is not finite (device)");
    case status_exponent_overflow:
      skippy::detail::fail("grpo: the mirror-ascent exponent log alpha + eta_alpha * group_loss of group ", s.index,
                           " overflows (device; alpha kept)");
    default:
      skippy::detail::fail("grpo: unknown device status ", s.code);
  }
}

// Step 1: margins and losses of n samples.
template <class Loss, class Real>
cudaError_t sample_losses(const Real* policy_chosen, const Real* policy_rejected, const Real* reference_chosen,
                          const Real* reference_rejected, const int* group, int n, int groups, Real beta, Real* margin,
                          Real* loss, DeviceStatus* status, cudaStream_t stream) {
  static_assert(is_loss_policy_v<Loss>, "grpo::device::sample_losses<Loss>: Loss must be grpo::Dpo or grpo::Ipo");
  grpo::detail::check_count(n, "the number of samples");
  grpo::detail::check_groups(groups);
  grpo::detail::check_beta(beta);
  require(status != nullptr, "grpo::device::sample_losses: status must not be null (bad samples are reported there)");
  if (n == 0) return cudaSuccess;
  detail::sample_losses_kernel<Loss, Real><<<detail::grid_for(n), block_threads, 0, stream>>>(
      policy_chosen, policy_rejected, reference_chosen, reference_rejected, group, n, groups, beta, margin, loss,
      status);
  return detail::resolve_samples(status, group, nullptr, stream);
}

// Step 2: per-group sums, counts and means (one block per group). A group id out of range is reported in
// status (its sample is left out of every group).
template <class Real>
cudaError_t group_reduce(const int* group, const Real* loss, int n, int groups, Real* group_sum, int* group_count,
                         Real* group_loss, DeviceStatus* status, cudaStream_t stream) {
  grpo::detail::check_count(n, "the number of samples");
  grpo::detail::check_groups(groups);
  require(status != nullptr, "grpo::device::group_reduce: status must not be null (bad group ids are reported there)");
  return detail::launch_group_reduce(group, loss, n, groups, group_sum, group_count, group_loss, status, stream);
}

// Steps 3-5: mirror ascent of alpha (GroupRobust; alpha may be null otherwise), weights, objective (one value).
// A bad alpha or a non-finite group loss (GroupRobust) is reported in status, and alpha kept; alpha is also
// kept when status already holds a fault (an earlier kernel's: the host rejects such a batch before mirror
// ascent), so reset the status before each step.
template <class Weighting, class Real>
cudaError_t update_weights(Real* alpha, const Real* group_loss, const int* group_count, int groups,
                           const typename Weighting::Params& params, Real* weight, Real* objective,
                           DeviceStatus* status, cudaStream_t stream) {
  static_assert(is_weighting_policy_v<Weighting>,
                "grpo::device::update_weights<Weighting>: Weighting must be UniformWeights, BalancedWeights or GroupRobust");
  grpo::detail::check_groups(groups);
  detail::check_weighting<Weighting>(params, alpha, status);
  Real chi = Real(0);
  bool balanced_mix = false;
  double eta = 0.0;
  int absent = 0;
  if constexpr (Weighting::adaptive) {
    chi = static_cast<Real>(params.chi);
    balanced_mix = params.mix == RobustMix::balanced;
    eta = params.eta_alpha;
    absent = params.absent == AbsentGroups::zero_exponent ? 1 : 0;
  } else {
    (void)params;
  }
  detail::weights_kernel<Weighting, Real><<<1, block_threads, 0, stream>>>(
      alpha, group_loss, group_count, groups, chi, balanced_mix, eta, absent, weight, objective, status);
  return cudaGetLastError();
}

// Step 6: dJ/dlog pi(y_w) and dJ/dlog pi(y_l) per sample. A group id out of range or a negative group count
// is reported in status (the samples it touches get 0).
template <class Loss, class Real>
cudaError_t gradient_coefficients(const Real* margin, const int* group, int n, int groups, const Real* weight,
                                  const int* group_count, Real beta, Real* d_chosen, Real* d_rejected,
                                  DeviceStatus* status, cudaStream_t stream) {
  static_assert(is_loss_policy_v<Loss>, "grpo::device::gradient_coefficients<Loss>: Loss must be grpo::Dpo or grpo::Ipo");
  grpo::detail::check_count(n, "the number of samples");
  grpo::detail::check_groups(groups);
  grpo::detail::check_beta(beta);
  require(status != nullptr,
          "grpo::device::gradient_coefficients: status must not be null (bad group ids and counts are reported there)");
  return detail::launch_coefficients<Loss>(margin, group, n, groups, weight, group_count, beta, d_chosen, d_rejected,
                                           status, stream);
}

// Device buffers of one step (all device pointers; sizes n or groups).
template <class Real>
struct DeviceStep {
  Real *margin, *loss;                 // [n]
  Real *group_sum, *group_loss;        // [groups]
  int* group_count;                    // [groups]
  Real* weight;                        // [groups]
  Real* objective;                     // [1]
  Real *d_chosen, *d_rejected;         // [n]
};

// Steps 1-6 for Method = Objective<Loss, Weighting>; alpha (device, [groups]) is updated in place for GroupRobust.
template <class Method, class Real>
cudaError_t step(const Real* policy_chosen, const Real* policy_rejected, const Real* reference_chosen,
                 const Real* reference_rejected, const int* group, int n, int groups,
                 const typename Method::Params& params, Real* alpha, const DeviceStep<Real>& out, DeviceStatus* status,
                 cudaStream_t stream) {
  static_assert(is_objective<Method>::value, "grpo::device::step<Method>: Method must be grpo::Objective<Loss, Weighting>");
  using Loss = typename Method::loss;
  using Weighting = typename Method::weighting;
  const Real beta = grpo::detail::narrow_beta<Real>(params.loss.beta);
  detail::check_weighting<Weighting>(params.weighting, alpha, status);  // before any kernel writes out
  cudaError_t e = sample_losses<Loss>(policy_chosen, policy_rejected, reference_chosen, reference_rejected, group, n,
                                      groups, beta, out.margin, out.loss, status, stream);
  if (e == cudaSuccess)
    e = detail::launch_group_reduce(group, out.loss, n, groups, out.group_sum, out.group_count, out.group_loss, nullptr,
                                    stream);
  if (e == cudaSuccess)
    e = update_weights<Weighting>(alpha, out.group_loss, out.group_count, groups, params.weighting, out.weight,
                                  out.objective, status, stream);
  if (e == cudaSuccess && n > 0)
    e = detail::launch_coefficients<Loss>(out.margin, group, n, groups, out.weight, out.group_count, beta, out.d_chosen,
                                          out.d_rejected, nullptr, stream);
  return e;
}

// Fused forward: logprob [batch] and lse [batch*length] from logits [batch][length][vocab].
template <class Real>
cudaError_t sequence_logprob(const Real* logits, const int* targets, const std::uint8_t* mask, int batch, int length,
                             int vocab, Real* logprob, Real* lse, DeviceStatus* status, cudaStream_t stream) {
  grpo::detail::check_shape(SequenceShape{batch, length, vocab});
  require(status != nullptr, "grpo::device::sequence_logprob: status must not be null (bad targets are reported there)");
  if (batch == 0) return cudaSuccess;
  detail::sequence_logprob_kernel<Real><<<batch, block_threads, 0, stream>>>(logits, targets, mask, length, vocab,
                                                                            logprob, lse, status);
  return detail::resolve_positions(status, targets, length, false, stream);
}

// Fused backward: dlogits = coef[b] * mask * (onehot(target) - softmax), from forward's lse. A non-finite
// coef, a target out of range or a non-finite lse (forward's, for non-finite logits) gets zero rows and is
// reported in status, as the host's backward names it (a backward called alone must not leave silently
// zeroed or NaN rows).
template <class Real>
cudaError_t sequence_logprob_backward(const Real* logits, const int* targets, const std::uint8_t* mask, const Real* lse,
                                      const Real* coef, int batch, int length, int vocab, Real* dlogits,
                                      DeviceStatus* status, cudaStream_t stream) {
  grpo::detail::check_shape(SequenceShape{batch, length, vocab});
  require(status != nullptr,
          "grpo::device::sequence_logprob_backward: status must not be null (bad targets are reported there)");
  if (batch == 0 || length == 0) return cudaSuccess;
  require(static_cast<std::int64_t>(batch) * length <= 0x7fffffff, "grpo::device::sequence_logprob_backward: ",
          batch, " x ", length, " positions exceed one grid (2^31 - 1 blocks)");
  detail::sequence_logprob_backward_kernel<Real><<<batch * length, block_threads, 0, stream>>>(
      logits, targets, mask, lse, coef, length, vocab, dlogits, status);
  return detail::resolve_positions(status, targets, length, true, stream);
}

}  // namespace skippy::grpo::device
