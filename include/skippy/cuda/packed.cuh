#pragma once
// The optional one-time repack of a Q8_0 / Q4_0 matrix into the packed device layout (quant/packed.hpp):
// each row's quant bytes contiguous, then the scales, so a weight kernel's slice is one aligned 8-byte
// load and a scale. A MatrixView with packed = true points at such bytes; gemv, gemv_batch, gemv_swiglu,
// their 8-bit-activation forms and gemm take it, with the same kernels, arithmetic and bits as over the
// ggml blocks in place (only the loads differ). PackedMatrix owns a packed copy of a device matrix (the
// same size); DeviceModel can upload a whole model packed.

#include <cuda_runtime.h>

#include <cstddef>

#include "../model/view.hpp"
#include "../quant/packed.hpp"
#include "buffer.cuh"
#include "check.cuh"
#include "gemv.cuh"

namespace skippy::cuda {

namespace kernels {
template <class Q, int Threads>
__global__ void __launch_bounds__(Threads)
    pack(const typename Q::block* __restrict__ src, int rows, int cols, unsigned char* __restrict__ dst) {
  const long i = static_cast<long>(blockIdx.x) * Threads + threadIdx.x;
  if (i < static_cast<long>(rows) * (cols / quant::qk)) quant::Packed<Q>::pack_block(src, rows, cols, i, dst);
}
}  // namespace kernels

// Packs the device matrix w (the ggml blocks in place) into dst (w.bytes() bytes of device memory, 8-byte
// aligned, not overlapping w), on stream. Returns cudaErrorInvalidValue for a bad shape, a null w or a w
// already packed or tiled, cudaErrorMisalignedAddress for dst.
template <class Q>
cudaError_t pack_matrix(const MatrixView<Q>& w, void* dst, cudaStream_t stream = nullptr) {
  static_assert(quant::is_int_blocks_v<Q>, "cuda::pack_matrix: the packed layout holds Q8_0 and Q4_0 matrices only");
  if (w.rows < 1 || w.cols < quant::qk || w.cols % quant::qk != 0 || w.packed || w.tiled || w.data == nullptr)
    return cudaErrorInvalidValue;
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
  // The packed matrix: pass it to gemv and the other weight kernels.
  MatrixView<Q> view() const {
    MatrixView<Q> v{reinterpret_cast<const typename Q::block*>(bytes_.data()), rows_, cols_};
    v.packed = true;
    return v;
  }

 private:
  DeviceBuffer<unsigned char> bytes_;
  int rows_, cols_;
};

}  // namespace skippy::cuda
