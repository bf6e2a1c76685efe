#pragma once
// The optional one-time repack of a Q8_0 / Q4_0 matrix into the tiled device layout (quant/tiled.hpp), for
// the tensor-core weight kernel over 8-bit activations (kernels/gemv_tiled.cuh). A MatrixView with tiled =
// true points at such bytes; gemv_q8, gemv_batch_q8, gemv_swiglu_q8 and gemv_qkv_rope_q8 take it (each
// result quant::tiled_dot's: not the bits of the dp4a kernel over the other layouts), the float-activation
// kernels and gemm refuse it. TiledMatrix owns a tiled copy of a device matrix (rows padded to 16 and
// blocks to 4: the ggml size at LLM shapes); DeviceModel can upload a whole model tiled.

#include <cuda_runtime.h>

#include <cstddef>

#include "../model/view.hpp"
#include "../quant/tiled.hpp"
#include "buffer.cuh"
#include "check.cuh"
#include "gemv.cuh"
#include "launch.cuh"

namespace skippy::cuda {

namespace kernels {
// One thread per row and block of a chunk: quant::Tiled<Q>::tile_block, the host's loop body.
template <class Q, int Threads>
__global__ void __launch_bounds__(Threads)
    tile_blocks(const typename Q::block* __restrict__ src, int rows, int cols, unsigned char* __restrict__ dst) {
  using T = quant::Tiled<Q>;
  constexpr int per_chunk = T::tile_rows * T::chunk_blocks;
  const long e = static_cast<long>(blockIdx.x) * Threads + threadIdx.x;
  const long chunk = e / per_chunk;
  if (chunk >= static_cast<long>(T::tiles(rows)) * T::chunks(cols)) return;
  const int k = static_cast<int>(e % per_chunk);
  T::tile_block(src, rows, cols, chunk / T::chunks(cols), static_cast<int>(chunk % T::chunks(cols)),
                k / T::chunk_blocks, k % T::chunk_blocks, dst);
}
}  // namespace kernels

// Tiles the device matrix w (the ggml blocks in place) into dst (quant::Tiled<Q>::bytes(w.rows, w.cols)
// bytes of device memory, 16-byte aligned, not overlapping w), on stream. Returns cudaErrorInvalidValue for
// a bad shape or a w in another layout, cudaErrorMisalignedAddress for dst.
template <class Q>
cudaError_t tile_matrix(const MatrixView<Q>& w, void* dst, cudaStream_t stream = nullptr) {
  static_assert(quant::is_int_blocks_v<Q>, "cuda::tile_matrix: the tiled layout holds Q8_0 and Q4_0 matrices only");
  using T = quant::Tiled<Q>;
  if (w.data == nullptr || w.rows < 1 || w.cols < quant::qk || w.cols % quant::qk != 0 || w.packed || w.tiled)
    return cudaErrorInvalidValue;
  if (!detail::aligned(dst, 16) || !detail::aligned(w.data, alignof(typename Q::block)))
    return cudaErrorMisalignedAddress;
  constexpr int threads = 256;
  const long n = static_cast<long>(T::tiles(w.rows)) * T::chunks(w.cols) * T::tile_rows * T::chunk_blocks;
  return launch(kernels::tile_blocks<Q, threads>, static_cast<unsigned>((n + threads - 1) / threads), threads, 0,
                stream, w.data, w.rows, w.cols, static_cast<unsigned char*>(dst));
}

// A tiled device copy of a Q8_0 / Q4_0 matrix (move-only; the source may be freed once the stream has run
// the tiling). Throws std::runtime_error naming the failure.
template <class Q>
class TiledMatrix {
 public:
  explicit TiledMatrix(const MatrixView<Q>& w, cudaStream_t stream = nullptr)
      : bytes_(quant::Tiled<Q>::bytes(w.rows, w.cols)), rows_(w.rows), cols_(w.cols) {
    check(tile_matrix(w, bytes_.data(), stream), "cuda::TiledMatrix: tiling the matrix");
  }
  // The tiled matrix: pass it to gemv_q8 and its batch forms.
  MatrixView<Q> view() const {
    MatrixView<Q> v{reinterpret_cast<const typename Q::block*>(bytes_.data()), rows_, cols_};
    v.tiled = true;
    return v;
  }

 private:
  DeviceBuffer<unsigned char> bytes_;
  int rows_, cols_;
};

}  // namespace skippy::cuda
