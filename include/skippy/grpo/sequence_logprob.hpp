#pragma once
// The fused sequence log-probability (host reference), forwards and backwards.
//
// A batch of B responses, each T positions over a vocabulary of V: logits [B][T][V] (row-major), target ids
// [B][T], mask [B][T] (nonzero = the position belongs to the response; others, e.g. the prompt and padding,
// are skipped and their target ids are not read).
//   forward:  logprob[b] = sum_t mask[b][t] * (z[b][t][y] - lse[b][t]),  lse = logsumexp_v z[b][t][v]
//   backward: dlogits[b][t][v] = coef[b] * mask[b][t] * (1[v == y] - softmax(z[b][t])[v])
// With coef = the gradient coefficients of host.hpp (dJ/dlog pi of a chosen or rejected response), backward
// gives dJ/dlogits, to be back-propagated through the runtime's model. lse is saved by forward for backward.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "formulas.hpp"
#include "host.hpp"

namespace skippy::grpo {

struct SequenceShape {
  int batch = 0;   // B responses
  int length = 0;  // T positions
  int vocab = 0;   // V logits per position
  std::size_t positions() const { return static_cast<std::size_t>(batch) * static_cast<std::size_t>(length); }
  std::size_t logits() const { return positions() * static_cast<std::size_t>(vocab); }
};

namespace detail {
inline void check_shape(const SequenceShape& s) {
  require(s.batch >= 0 && s.length >= 0, "grpo: sequence shape must be non-negative, got batch ", s.batch,
          " length ", s.length);
  require(s.vocab >= 1, "grpo: the vocabulary size must be >= 1, got ", s.vocab);
}
}  // namespace detail

// Forward: logprob [B] and the per-position logsumexp lse [B*T] (0 at masked-off positions).
template <class Real>
void sequence_logprob(Span<const Real> logits, Span<const int> targets, Span<const std::uint8_t> mask,
                      const SequenceShape& shape, Span<Real> logprob, Span<Real> lse) {
  detail::check_shape(shape);
  detail::check_length(logits.size, shape.logits(), "logits", "batch*length*vocab");
  detail::check_length(targets.size, shape.positions(), "targets", "batch*length");
  detail::check_length(mask.size, shape.positions(), "mask", "batch*length");
  detail::check_length(logprob.size, static_cast<std::size_t>(shape.batch), "logprob", "batch");
  detail::check_length(lse.size, shape.positions(), "lse", "batch*length");
  const auto vs = static_cast<std::size_t>(shape.vocab);
  for (int b = 0; b < shape.batch; ++b) {
    Real total = Real(0);
    for (int t = 0; t < shape.length; ++t) {
      const std::size_t p = static_cast<std::size_t>(b) * static_cast<std::size_t>(shape.length) +
                            static_cast<std::size_t>(t);
      lse[p] = Real(0);
      if (!mask[p]) continue;
      const int y = targets[p];
      require(y >= 0 && y < shape.vocab, "grpo: target id ", y, " of response ", b, " position ", t,
              " is out of range 0..", shape.vocab - 1);
      const Real* z = logits.data + p * vs;
      Real m = z[0];
      for (std::size_t v = 1; v < vs; ++v) m = z[v] > m ? z[v] : m;
      Real s = Real(0);
      for (std::size_t v = 0; v < vs; ++v) s += formula::exp_shifted(z[v], m);
      const Real l = formula::logsumexp_finish(m, s);
      require(formula::finite(l) && formula::finite(z[y]), "grpo: non-finite logits in response ", b,
              " position ", t);
      lse[p] = l;
      total += z[y] - l;
    }
    logprob[static_cast<std::size_t>(b)] = total;
  }
}

// Backward: dlogits [B*T*V] = coef[b] * mask * (onehot(target) - softmax), from the lse saved by forward.
template <class Real>
void sequence_logprob_backward(Span<const Real> logits, Span<const int> targets, Span<const std::uint8_t> mask,
                               Span<const Real> lse, Span<const Real> coef, const SequenceShape& shape,
                               Span<Real> dlogits) {
  detail::check_shape(shape);
  detail::check_length(logits.size, shape.logits(), "logits", "batch*length*vocab");
  detail::check_length(targets.size, shape.positions(), "targets", "batch*length");
  detail::check_length(mask.size, shape.positions(), "mask", "batch*length");
  detail::check_length(lse.size, shape.positions(), "lse", "batch*length");
  detail::check_length(coef.size, static_cast<std::size_t>(shape.batch), "coef", "batch");
  detail::check_length(dlogits.size, shape.logits(), "dlogits", "batch*length*vocab");
  const auto vs = static_cast<std::size_t>(shape.vocab);
  for (int b = 0; b < shape.batch; ++b) {
    const Real c = coef[static_cast<std::size_t>(b)];
    // As the forward pass checks its inputs: a NaN coefficient or log-normaliser would make NaN (or, for an
    // infinite lse, silently wrong) gradients.
    require(formula::finite(c), "grpo: coef[", b, "] is not finite (", c, ")");
    for (int t = 0; t < shape.length; ++t) {
      const std::size_t p = static_cast<std::size_t>(b) * static_cast<std::size_t>(shape.length) +
                            static_cast<std::size_t>(t);
      Real* d = dlogits.data + p * vs;
      if (!mask[p]) {
        for (std::size_t v = 0; v < vs; ++v) d[v] = Real(0);
        continue;
      }
      const int y = targets[p];
      require(y >= 0 && y < shape.vocab, "grpo: target id ", y, " of response ", b, " position ", t,
              " is out of range 0..", shape.vocab - 1);
      require(formula::finite(lse[p]), "grpo: lse of response ", b, " position ", t, " is not finite (", lse[p], ")");
      const Real* z = logits.data + p * vs;
      for (std::size_t v = 0; v < vs; ++v)
        d[v] = formula::dlogit(z[v], lse[p], v == static_cast<std::size_t>(y), c);
    }
  }
}

}  // namespace skippy::grpo
