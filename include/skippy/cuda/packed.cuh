#pragma once
// The optional one-time repack of a Q8_0 / Q4_0 matrix into the packed device layout (quant/packed.hpp),
// and the weight kernels over it: each row's quant bytes contiguous, then the scales, so a slice is one
// aligned 8-byte load and a scale. The same kernel, arithmetic and bits as gemv / gemv_q8 on the ggml
// blocks in place; only the loads differ. PackedMatrix owns the packed copy (the same size as the
// matrix); PackedView is its non-owning view, for weights a caller packed itself.

#include <cuda_runtime.h>

#include <cstddef>

#include "../model/view.hpp"
#include "../quant/packed.hpp"
#include "buffer.cuh"
#include "check.cuh"
#include "gemv.cuh"

namespace skippy::cuda {

template <class Q>
struct PackedView {
  static_assert(quant::packable_v<Q>, "cuda::PackedView: the packed layout holds Q8_0 and Q4_0 matrices only");
  const void* data = nullptr;  // quant::Packed<Q>'s bytes of a rows x cols matrix, 8-byte aligned
  int rows = 0;
  int cols = 0;
};

namespace kernels {
template <class Q, int Threads>
__global__ void __launch_bounds__(Threads)
    pack(const typename Q::block* __restrict__ src, int rows, int cols, unsigned char* __restrict__ dst) {
  const long i = static_cast<long>(blockIdx.x) * Threads + threadIdx.x;
  if (i < static_cast<long>(rows) * (cols / quant::qk)) quant::Packed<Q>::pack_block(src, rows, cols, i, dst);
}
}  // namespace kernels

// Packs the device matrix w into dst (w.bytes() bytes of device memory, 8-byte aligned, not overlapping
// w), on stream. Returns cudaErrorInvalidValue for a bad shape, cudaErrorMisalignedAddress for dst.
template <class Q>
cudaError_t pack_matrix(const MatrixView<Q>& w, void* dst, cudaStream_t stream = nullptr) {
  static_assert(quant::packable_v<Q>, "cuda::pack_matrix: the packed layout holds Q8_0 and Q4_0 matrices only");
  if (w.rows < 1 || w.cols < quant::qk || w.cols % quant::qk != 0) return cudaErrorInvalidValue;
  if (!detail::aligned(dst, 8) || !detail::aligned(w.data, alignof(typename Q::block)))
    return cudaErrorMisalignedAddress;
  constexpr int threads = 256;
  const long blocks = static_cast<long>(w.rows) * (w.cols / quant::qk);
  kernels::pack<Q, threads><<<static_cast<unsigned>((blocks + threads - 1) / threads), threads, 0, stream>>>(
      w.data, w.rows, w.cols, static_cast<unsigned char*>(dst));
  return cudaGetLastError();
}

// A packed device copy of a Q8_0 / Q4_0 matrix (move-only; the source may be freed once the stream has
// run the pack). Throws std::runtime_error naming the failure.
template <class Q>
class PackedMatrix {
 public:
  explicit PackedMatrix(const MatrixView<Q>& w, cudaStream_t stream = nullptr)
      : bytes_(w.bytes()), rows_(w.rows), cols_(w.cols) {
    check(pack_matrix(w, bytes_.data(), stream), "cuda::PackedMatrix: packing the matrix");
  }
  PackedView<Q> view() const { return {bytes_.data(), rows_, cols_}; }

 private:
  DeviceBuffer<unsigned char> bytes_;
  int rows_, cols_;
};

namespace detail {
template <class Q>
cudaError_t check_packed(const PackedView<Q>& w) {
  if (w.cols < quant::qk || w.cols % quant::qk != 0 || w.rows < 1) return cudaErrorInvalidValue;
  return aligned(w.data, 8) ? cudaSuccess : cudaErrorMisalignedAddress;
}
template <class Q>
GemvBatch<Q> packed_batch(const PackedView<Q>& w, float* y) {
  GemvBatch<Q> b{};
  b.jobs = 1;
  b.cols = w.cols;
  b.w[0] = static_cast<const typename Q::block*>(w.data);  // read as quant::Packed<Q>'s bytes
  b.y[0] = y;
  b.rows[0] = w.rows;
  return b;
}
}  // namespace detail

// y[i][r] = W[r] . x[i] for i < m over a packed matrix: gemv's bits for the same matrix in place. x must be
// 16-byte aligned (there is no fallback kernel for the packed layout): else cudaErrorMisalignedAddress.
template <class Q>
cudaError_t gemv(const PackedView<Q>& w, const float* x, int m, float* y, cudaStream_t stream = nullptr) {
  cudaError_t e = detail::check_packed(w);
  if (e == cudaSuccess && !detail::aligned(x, 16)) e = cudaErrorMisalignedAddress;
  if (e == cudaSuccess && !detail::aligned(y, alignof(float))) e = cudaErrorMisalignedAddress;
  if (e != cudaSuccess) return e;
  return detail::launch_interleaved<false, quant::FloatSlices<Q>, Q, quant::Packed<Q>>(detail::packed_batch(w, y),
                                                                                      x, m, stream);
}

// gemv_q8 over a packed matrix: the same bits as gemv_q8 of the matrix in place.
template <class Q>
cudaError_t gemv_q8(const PackedView<Q>& w, const quant::Q8Rows& x, int m, float* y, cudaStream_t stream = nullptr) {
  cudaError_t e = detail::check_packed(w);
  if (e == cudaSuccess) e = detail::check_operands(MatrixView<Q>{nullptr, w.rows, w.cols}, x, y);
  if (e != cudaSuccess) return e;
  return detail::launch_interleaved<false, quant::Q8Slices<Q>, Q, quant::Packed<Q>>(detail::packed_batch(w, y), x,
                                                                                   m, stream);
}

}  // namespace skippy::cuda
