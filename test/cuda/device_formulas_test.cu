// The __host__ __device__ formulas (half and FP8 conversions, dot products of every storage type and the
// attention's wide-load one, Philox, RMSNorm, RoPE) give the same results on the device as on the host.
// Compiled wherever nvcc exists; runs where a GPU exists, else skips visibly.

#include <cuda_fp8.h>
#include <doctest/doctest.h>

#include <skippy/core/fp8.hpp>
#include <skippy/cuda/check.cuh>
#include <skippy/cuda/kernels/attention.cuh>
#include <skippy/math/rmsnorm.hpp>
#include <skippy/math/rope.hpp>
#include <skippy/quant/dot.hpp>
#include <skippy/quant/quantize.hpp>
#include <skippy/rng/philox.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace skippy;

namespace {

template <class Q>
__global__ void dot_kernel(const typename Q::block* w, const float* x, int rows, int cols, float* y) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r < rows) y[r] = quant::dot_row<Q>(w + static_cast<long>(r) * (cols / Q::block_size), x, cols);
}

// math::dot and the attention kernel's wide-load dot_aligned over rows of n values: rows * 2 results.
__global__ void dots_kernel(const float* a, const float* b, int rows, int n, float* out) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  out[2 * r] = math::dot(a, b + static_cast<long>(r) * n, n);
  out[2 * r + 1] = skippy::cuda::kernels::dot_aligned(a, b + static_cast<long>(r) * n, n);
}

// Every binary16 bit pattern through the device's to_float.
__global__ void half_kernel(std::uint32_t* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < 65536) out[i] = float_bits(to_float(half_t{static_cast<std::uint16_t>(i)}));
}

// Every E4M3 code through the device's to_float; each input through the device's to_fp8_e4m3 and through
// CUDA's own saturating conversion (cvt.rn.satfinite.e4m3x2.f32 from sm_89, software below).
__global__ void fp8_kernel(const float* in, int n, std::uint32_t* decoded, std::uint8_t* ours, std::uint8_t* theirs) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < 256) decoded[i] = float_bits(to_float(fp8_e4m3_t{static_cast<std::uint8_t>(i)}));
  if (i < n) {
    ours[i] = to_fp8_e4m3(in[i]).bits;
    theirs[i] = __nv_cvt_float_to_fp8(in[i], __NV_SATFINITE, __NV_E4M3);
  }
}

__global__ void uniform_kernel(std::uint64_t seed, int n, float* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = rng::uniform(seed, {static_cast<std::uint32_t>(i), 7u, rng::Purpose::accept_test, 0u});
}

__global__ void norm_rope_kernel(const float* x, const float* w, float* y, int n, int pos) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  math::rmsnorm(x, w, y, n, 1e-5f);
  math::rope(y, pos, n, 10000.0f);
}

#define CUDA_OK(expr) REQUIRE((expr) == cudaSuccess)

template <class Q>
void check_dot() {
  const int rows = 64, cols = 256;
  std::vector<float> wf(rows * cols), x(cols);
  for (int i = 0; i < rows * cols; ++i) wf[i] = std::sin(0.37f * static_cast<float>(i));
  for (int i = 0; i < cols; ++i) x[i] = std::cos(0.11f * static_cast<float>(i));
  const auto w = quant::quantize<Q>(wf);
  typename Q::block* dw;
  float *dx, *dy;
  CUDA_OK(cudaMalloc(&dw, w.size() * sizeof(w[0])));
  CUDA_OK(cudaMalloc(&dx, cols * sizeof(float)));
  CUDA_OK(cudaMalloc(&dy, rows * sizeof(float)));
  CUDA_OK(cudaMemcpy(dw, w.data(), w.size() * sizeof(w[0]), cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dx, x.data(), cols * sizeof(float), cudaMemcpyHostToDevice));
  dot_kernel<Q><<<1, rows>>>(dw, dx, rows, cols, dy);
  CUDA_OK(cudaGetLastError());
  std::vector<float> y(rows);
  CUDA_OK(cudaMemcpy(y.data(), dy, rows * sizeof(float), cudaMemcpyDeviceToHost));
  for (int r = 0; r < rows; ++r) {
    const float host = quant::dot_row<Q>(w.data() + r * (cols / Q::block_size), x.data(), cols);
    INFO(std::string(Q::name), " row ", r);
    // Same operations in the same order; only FMA contraction may differ between compilers.
    CHECK(y[r] == doctest::Approx(host).epsilon(1e-5));
  }
  cudaFree(dw);
  cudaFree(dx);
  cudaFree(dy);
}

}  // namespace

TEST_CASE("device formulas equal the host formulas") {
  if (!skippy::cuda::device_available()) {
    std::printf("skipped: no GPU (device_formulas_test)\n");
    return;
  }
  check_dot<quant::F32>();
  check_dot<quant::F16>();
  check_dot<quant::BF16>();
  check_dot<quant::F8_E4M3>();
  check_dot<quant::Q8_0>();
  check_dot<quant::Q4_0>();

  // binary16 -> binary32 on the device (a conversion instruction for non-NaNs) equals the host's formula
  // for all 65536 inputs, NaN payloads included.
  std::uint32_t* dh;
  CUDA_OK(cudaMalloc(&dh, 65536 * sizeof(std::uint32_t)));
  half_kernel<<<256, 256>>>(dh);
  CUDA_OK(cudaGetLastError());
  std::vector<std::uint32_t> hb(65536);
  CUDA_OK(cudaMemcpy(hb.data(), dh, hb.size() * sizeof(std::uint32_t), cudaMemcpyDeviceToHost));
  cudaFree(dh);
  int half_equal = 0;
  for (int i = 0; i < 65536; ++i) half_equal += hb[i] == float_bits(to_float(half_t{static_cast<std::uint16_t>(i)}));
  CHECK(half_equal == 65536);

  // The attention's wide-load scores are math::dot's bits (head sizes 64 and 128, 256 keys).
  for (int hd : {64, 128}) {
    const int keys = 256;
    std::vector<float> qa(hd), kb(static_cast<std::size_t>(keys) * hd), dots(2 * keys);
    for (int i = 0; i < hd; ++i) qa[i] = std::sin(0.7f * static_cast<float>(i)) * 3.0f;
    for (std::size_t i = 0; i < kb.size(); ++i)
      kb[i] = std::cos(0.013f * static_cast<float>(i) * static_cast<float>(i % 97));
    float *da, *db, *dd;
    CUDA_OK(cudaMalloc(&da, qa.size() * sizeof(float)));
    CUDA_OK(cudaMalloc(&db, kb.size() * sizeof(float)));
    CUDA_OK(cudaMalloc(&dd, dots.size() * sizeof(float)));
    CUDA_OK(cudaMemcpy(da, qa.data(), qa.size() * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(db, kb.data(), kb.size() * sizeof(float), cudaMemcpyHostToDevice));
    dots_kernel<<<2, 128>>>(da, db, keys, hd, dd);
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaMemcpy(dots.data(), dd, dots.size() * sizeof(float), cudaMemcpyDeviceToHost));
    cudaFree(da);
    cudaFree(db);
    cudaFree(dd);
    int same = 0;
    for (int r = 0; r < keys; ++r) same += std::memcmp(&dots[2 * r], &dots[2 * r + 1], sizeof(float)) == 0;
    CHECK(same == keys);
  }

  const int n = 4096;
  float* d;
  CUDA_OK(cudaMalloc(&d, n * sizeof(float)));
  uniform_kernel<<<(n + 255) / 256, 256>>>(0x1234abcdULL, n, d);
  std::vector<float> u(n);
  CUDA_OK(cudaMemcpy(u.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
  cudaFree(d);
  int equal = 0;
  for (int i = 0; i < n; ++i)
    equal += u[i] == rng::uniform(0x1234abcdULL, {static_cast<std::uint32_t>(i), 7u, rng::Purpose::accept_test, 0u});
  CHECK(equal == n);  // the random stream is bit-identical on host and device

  // RMSNorm then RoPE of one 128-wide head at position 1234: device libm differs by ulps only.
  const int hd = 128;
  std::vector<float> x(hd), w(hd), host(hd), dev(hd);
  for (int i = 0; i < hd; ++i) {
    x[i] = std::sin(0.3f * static_cast<float>(i)) * 3.0f;
    w[i] = 1.0f + 0.01f * static_cast<float>(i % 7);
  }
  math::rmsnorm(x.data(), w.data(), host.data(), hd, 1e-5f);
  math::rope(host.data(), 1234, hd, 10000.0f);
  float *dxp, *dwp, *dyp;
  CUDA_OK(cudaMalloc(&dxp, hd * sizeof(float)));
  CUDA_OK(cudaMalloc(&dwp, hd * sizeof(float)));
  CUDA_OK(cudaMalloc(&dyp, hd * sizeof(float)));
  CUDA_OK(cudaMemcpy(dxp, x.data(), hd * sizeof(float), cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dwp, w.data(), hd * sizeof(float), cudaMemcpyHostToDevice));
  norm_rope_kernel<<<1, 1>>>(dxp, dwp, dyp, hd, 1234);
  CUDA_OK(cudaMemcpy(dev.data(), dyp, hd * sizeof(float), cudaMemcpyDeviceToHost));
  cudaFree(dxp);
  cudaFree(dwp);
  cudaFree(dyp);
  for (int i = 0; i < hd; ++i) CHECK(dev[i] == doctest::Approx(host[i]).epsilon(1e-4).scale(1.0));
}

TEST_CASE("fp8 e4m3 conversions on the device equal the host's, and CUDA's saturating conversion") {
  if (!skippy::cuda::device_available()) {
    std::printf("skipped: no GPU (device_formulas_test fp8)\n");
    return;
  }
  // A sweep of binary32 patterns over the whole range, then each tie between neighbouring codes and the
  // floats beside it, and the edges.
  std::vector<float> in;
  for (std::uint64_t u = 0; u <= 0xffffffffu; u += 4099) in.push_back(bits_float(static_cast<std::uint32_t>(u)));
  for (int c = 0; c < 0x7e; ++c) {
    const float lo = to_float(fp8_e4m3_t{static_cast<std::uint8_t>(c)});
    const float mid = (lo + to_float(fp8_e4m3_t{static_cast<std::uint8_t>(c + 1)})) / 2;
    for (const float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
      in.push_back(f);
      in.push_back(-f);
    }
  }
  for (const float f : {448.0f, 464.0f, 1e30f, INFINITY, -INFINITY, NAN, 0.0f, -0.0f}) in.push_back(f);
  const int n = static_cast<int>(in.size());
  float* din;
  std::uint32_t* ddec;
  std::uint8_t *dours, *dtheirs;
  CUDA_OK(cudaMalloc(&din, in.size() * sizeof(float)));
  CUDA_OK(cudaMalloc(&ddec, 256 * sizeof(std::uint32_t)));
  CUDA_OK(cudaMalloc(&dours, in.size()));
  CUDA_OK(cudaMalloc(&dtheirs, in.size()));
  CUDA_OK(cudaMemcpy(din, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice));
  fp8_kernel<<<(n + 255) / 256, 256>>>(din, n, ddec, dours, dtheirs);
  CUDA_OK(cudaGetLastError());
  std::vector<std::uint32_t> dec(256);
  std::vector<std::uint8_t> ours(in.size()), theirs(in.size());
  CUDA_OK(cudaMemcpy(dec.data(), ddec, dec.size() * sizeof(std::uint32_t), cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(ours.data(), dours, ours.size(), cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(theirs.data(), dtheirs, theirs.size(), cudaMemcpyDeviceToHost));
  cudaFree(din);
  cudaFree(ddec);
  cudaFree(dours);
  cudaFree(dtheirs);
  int decoded = 0, host_equal = 0, cuda_equal = 0, shown = 0;
  for (int c = 0; c < 256; ++c) decoded += dec[c] == float_bits(to_float(fp8_e4m3_t{static_cast<std::uint8_t>(c)}));
  CHECK(decoded == 256);
  for (int i = 0; i < n; ++i) {
    host_equal += ours[i] == to_fp8_e4m3(in[i]).bits;
    // CUDA makes every NaN the positive one (0x7f); ours keeps the sign.
    const bool nan = (ours[i] & 0x7f) == 0x7f && (theirs[i] & 0x7f) == 0x7f;
    if (ours[i] == theirs[i] || nan) ++cuda_equal;
    else if (++shown <= 8)
      MESSAGE("input ", in[i], ": to_fp8_e4m3 ", int{ours[i]}, ", __nv_cvt_float_to_fp8 ", int{theirs[i]});
  }
  CHECK(host_equal == n);
  CHECK(cuda_equal == n);
}
