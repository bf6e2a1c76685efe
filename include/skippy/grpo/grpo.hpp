#pragma once
// Group-robust preference optimization (README §2), host side: policies, formulas, host kernels, the fused
// sequence log-probability and the log-linear trainer with the paper's synthetic benchmark.
// The CUDA kernels are in <skippy/grpo/cuda.cuh> (include it from a .cu translation unit).

#include "formulas.hpp"
#include "host.hpp"
#include "loglinear.hpp"
#include "policy.hpp"
#include "sequence_logprob.hpp"
