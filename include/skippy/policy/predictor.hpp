#pragma once
// Drafting policies: how the K drafts of a step are produced (README §1).

#include <type_traits>

namespace skippy {

inline constexpr int max_predictors = 32;  // bounds per-step arrays and statistics

enum class DraftMode { none, simultaneous, sequential };

// One draft pass over [x_t, m, ..., m] (K tokens) gives K draft distributions (S3D; needs a trained model).
template <int K>
struct Simultaneous {
  static_assert(K >= 1, "Simultaneous<K>: K must be at least 1 (use Autoregressive for no drafts)");
  static_assert(K <= max_predictors, "Simultaneous<K>: K exceeds skippy::max_predictors (32)");
  static constexpr int k = K;
  static constexpr DraftMode mode = DraftMode::simultaneous;
};

// K single-token draft passes with the skipped layers (Draft & Verify / LayerSkip; any model).
template <int K>
struct Sequential {
  static_assert(K >= 1, "Sequential<K>: K must be at least 1 (use Autoregressive for no drafts)");
  static_assert(K <= max_predictors, "Sequential<K>: K exceeds skippy::max_predictors (32)");
  static constexpr int k = K;
  static constexpr DraftMode mode = DraftMode::sequential;
};

// No drafts: plain autoregressive decoding, the K = 0 case of the S3D step.
struct Autoregressive {
  static constexpr int k = 0;
  static constexpr DraftMode mode = DraftMode::none;
};

template <class T>
struct is_predictor : std::false_type {};
template <int K>
struct is_predictor<Simultaneous<K>> : std::true_type {};
template <int K>
struct is_predictor<Sequential<K>> : std::true_type {};
template <>
struct is_predictor<Autoregressive> : std::true_type {};

}  // namespace skippy
