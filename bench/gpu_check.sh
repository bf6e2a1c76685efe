#!/usr/bin/env bash
# The GPU checks as one prepared script, because a lent GPU comes with ~15 minutes of device time and no
# package archive (no doctest, no Google Benchmark): build here, carry the binaries, run there.
#
#   bench/gpu_check.sh pack                 # here: build the CUDA binaries, copy them and their libraries
#                                           #       to build/gpu-pack (ignored by git)
#   bench/gpu_check.sh variant NAME FLAGS   # here, after pack: skippy_bench_gemv built with CUDA flags FLAGS
#                                           #       (e.g. -DSKIPPY_GEMV_L2_PREFETCH=2) to build/gpu-pack/variants/NAME
#   bench/gpu_check.sh run main  [OUT]      # there: CUDA tests, benchmarks, demo (at most 540 s; about
#                                           #        100 s on the H200 in runs 6-9)
#   bench/gpu_check.sh run sanitize [OUT]   # there: compute-sanitizer memcheck, racecheck, synccheck, then the
#                                           #        CUDA sweep (at most 540 s)
#   bench/gpu_check.sh run variants [OUT]   # there: the decoding weight kernels (M = 1, 5) of each
#                                           #        build/gpu-pack/variants/NAME (a skippy_bench_gemv built with
#                                           #        other knobs), into variants.tgz (at most 60 s each)
#   bench/gpu_check.sh run profile [OUT]    # there: Nsight Compute sections of the weight kernel at 14336 x 4096,
#                                           #        M = 1 and 5, each arithmetic and layout (30 s each)
#
# With the device tool: run(command="bench/gpu_check.sh run main", carry=["build/gpu-pack"],
# timeout_s=570); each step has its own timeout so a hang costs that step only. At most 8 files come back:
# log.txt (everything printed, step by step, with exit codes and seconds), gemv.json, decode_step.json,
# sanitize.txt and sweep.csv (sanitize), variants.tgz (variants); the profile's sections are in log.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
pack=build/gpu-pack

if [ "${1:-}" = pack ]; then
  set -e
  # The programs run on the GPU machine's CPU: built portable (the examples are -march=native by default),
  # and the default restored afterwards (the next build of build/default recompiles the examples).
  cmake --preset default -DSKIPPY_NATIVE_EXAMPLES=OFF >/dev/null
  cmake --build --preset default --target skippy_cuda_tests skippy_bench_gemv skippy_bench_decode_step \
    skippy_demo skippy_config_sweep
  rm -rf "$pack" && mkdir -p "$pack/lib"
  cp build/default/test/skippy_cuda_tests build/default/bench/skippy_bench_gemv \
    build/default/bench/skippy_bench_decode_step build/default/examples/skippy_demo \
    build/default/examples/skippy_config_sweep "$pack/"
  cmake --preset default -USKIPPY_NATIVE_EXAMPLES >/dev/null
  # Shared libraries the device image may lack (Google Benchmark, this toolkit's runtime).
  for bin in "$pack"/skippy_*; do
    ldd "$bin" | awk '/libbenchmark|libcudart/ {print $3}'
  done | sort -u | xargs -r cp -L -t "$pack/lib"
  if [ -f build/train/heldout.txt ]; then cp build/train/heldout.txt "$pack/"; fi
  du -sh "$pack"
  exit 0
fi

if [ "${1:-}" = variant ] && [ -n "${2:-}" ] && [ -n "${3:-}" ]; then
  set -e
  dir=build/variant-$2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKIPPY_WERROR=ON -DCMAKE_CUDA_FLAGS="$3" >/dev/null
  cmake --build "$dir" --target skippy_bench_gemv -j 2
  mkdir -p "$pack/variants" && cp "$dir/bench/skippy_bench_gemv" "$pack/variants/$2"
  exit 0
fi

if [ "${1:-}" != run ] || [ -z "${2:-}" ]; then
  sed -n '2,16p' "$0"
  exit 2
fi
phase=$2
out=${3:-${OUT:-build/gpu-out}}
mkdir -p "$out"
export LD_LIBRARY_PATH="$PWD/$pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
log="$out/log.txt"

step() {  # step NAME SECONDS command...: runs it under a timeout, logs output, exit code and duration
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  echo "=== $name: $*" | tee -a "$log"
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - t0)) s (limit $limit s)" | tee -a "$log"
}

{ date -u; nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem \
    --format=csv; } 2>&1 | tee -a "$log"
text=()
if [ -f "$pack/heldout.txt" ]; then text=(--text "$pack/heldout.txt"); fi

case $phase in
  main)
    # -d prints each test case's seconds, to size the sanitizer runs.
    step cuda_tests 120 "$pack/skippy_cuda_tests" -d
    # 0.03 s per case: ~1030 cases (the reference kernel's baseline and BM_gemv_stream's back-to-back cases,
    # 20 graph replays each, included), estimated at ~130 s.
    step bench_gemv 170 "$pack/skippy_bench_gemv" --benchmark_min_time=0.03 \
      --benchmark_out="$out/gemv.json" --benchmark_out_format=json
    # The small kernels first (24 attention cases, norms, argmax, sampling), then 201 step benchmarks: F16 27
    # (3 kinds x 5 launch modes, tensor-core decoding, fused norms), Q8_0 and Q4_0 87 each (activations and
    # layouts). A step case no longer prefills its context (zeroed K/V), so a case costs its timed steps,
    # a capture and a Forward; a run cut by the limit keeps the cases before it (summarize.py reads them).
    step bench_decode_step 170 "$pack/skippy_bench_decode_step" --benchmark_min_time=0.05 \
      --benchmark_out="$out/decode_step.json" --benchmark_out_format=json
    step demo 20 "$pack/skippy_demo" --tokens 256 --no-stream
    step demo_sampling 20 "$pack/skippy_demo" --tokens 256 --no-stream --accept sampling
    step demo_tensor_cores 20 "$pack/skippy_demo" --tokens 256 --no-stream --tensor-cores
    step demo_fused_norms 20 "$pack/skippy_demo" --tokens 256 --no-stream --fused-norms
    ;;
  sanitize)
    san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
      /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
    if [ -z "$san" ]; then
      echo "=== sanitize: compute-sanitizer not found (PATH, /usr/local/cuda)" | tee -a "$log" "$out/sanitize.txt"
      exit 1
    fi
    # Statistical test loops run a few cases under the sanitizers (test/support/gpu.hpp).
    export SKIPPY_SANITIZER_RUN=1
    # The decoder cases (graphs, grids of policies) are slow under the sanitizers and left out; the
    # kernels only they launch (greedy acceptance, verdicts) need a longer run of their own.
    fast='*gemv*,*gemm*,*argmax*,*warp_rows*,*sample_row*,*speculative sampling kernels*,*typical_accept*,*grpo*'
    fast="$fast,*grouped_attention*"
    step memcheck 120 "$san" --tool memcheck --error-exitcode 1 --print-limit 20 \
      "$pack/skippy_cuda_tests" --test-case="$fast,*Forward*"
    # racecheck one group of kernels at a time: over all of them at once it outlived its limit on an H200
    # (2026-11-30); the speculative-sampling group alone outlived 35 s with its 600 full trials.
    for group in '*gemv*' '*gemm*' '*argmax*,*warp_rows*,*sample_row*' '*grouped_attention*' \
      '*speculative sampling kernels*,*typical_accept*' '*grpo*'; do
      step "racecheck $group" 35 "$san" --tool racecheck --error-exitcode 1 --print-limit 20 \
        "$pack/skippy_cuda_tests" --test-case="$group"
    done
    step synccheck 60 "$san" --tool synccheck --error-exitcode 1 --print-limit 20 \
      "$pack/skippy_cuda_tests" --test-case="*warp_rows*,*speculative sampling kernels*,*typical_accept*,*gemv_batch*"
    grep -E "^=== [a-z]|ERROR SUMMARY|RACECHECK SUMMARY|Invalid|Race|hazard" "$log" > "$out/sanitize.txt"
    step sweep_cuda 40 "$pack/skippy_config_sweep" --backend cuda --positions 400 --tokens 128 \
      "${text[@]}" --csv "$out/sweep.csv"
    ;;
  variants)
    tmp=$(mktemp -d)
    for bin in "$pack"/variants/*; do
      name=$(basename "$bin")
      step "variant $name" 60 "$bin" --benchmark_min_time=0.03 \
        --benchmark_filter='^BM_gemv(_q8)?<quant::(F16|BF16|Q8_0|Q4_0)>/[0-9]+/[0-9]+/[15]/' \
        --benchmark_out="$tmp/gemv_$name.json" --benchmark_out_format=json
    done
    tar -czf "$out/variants.tgz" -C "$tmp" .
    ;;
  profile)
    # Whether the weight kernel is issue-bound or memory-bound: throughput, issue-slot use, stall reasons and
    # occupancy of one launch per benchmark, at the clocks the benchmarks run at (no clock locking).
    ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
    if [ -z "$ncu" ]; then
      echo "=== profile: ncu not found (PATH, /usr/local/cuda/bin)" | tee -a "$log"
      exit 1
    fi
    for bm in 'BM_gemv<quant::F16>' 'BM_gemv<quant::Q8_0>' 'BM_gemv<quant::Q4_0>' 'BM_gemv_q8<quant::Q8_0>' \
      'BM_gemv_q8<quant::Q4_0>' 'BM_gemv_packed<quant::Q4_0>' 'BM_gemv_q8_packed<quant::Q4_0>'; do
      for m in 1 5; do
        step "profile $bm M=$m" 30 "$ncu" --clock-control none -k regex:gemv_interleaved --launch-skip 3 \
          --launch-count 1 --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats \
          --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
          "$pack/skippy_bench_gemv" --benchmark_filter="^$bm/14336/4096/$m/" --benchmark_min_time=0.01
        if grep -q ERR_NVGPUCTRPERM "$log"; then
          echo "=== profile: this machine does not let a user read the performance counters" | tee -a "$log"
          exit 1
        fi
      done
    done
    ;;
  *)
    echo "unknown phase '$phase' (main, sanitize, variants or profile)"
    exit 2
    ;;
esac
echo "=== done: $phase" | tee -a "$log"
