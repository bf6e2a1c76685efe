#pragma once
// The compile-time checks every decoder (host or CUDA) makes on its policy arguments, written once so
// both backends reject the same combinations with the same messages.

#include "../accept/traits.hpp"
#include "../model/view.hpp"
#include "../policy/activations.hpp"
#include "../policy/predictor.hpp"
#include "../policy/skip_range.hpp"

namespace skippy::decode {

template <class Model, class Skip, class Predictor, class Accept, class Activations = FloatActivations>
struct CheckPolicies {
  static_assert(is_model_view<Model>::value, "Decoder<Model, ...>: Model must be skippy::ModelView<Q>");
  static_assert(is_skip_range<Skip>::value, "Decoder<Model, Skip, ...>: Skip must be skippy::SkipRange<B, E>");
  static_assert(is_predictor<Predictor>::value,
                "Decoder<..., Predictor, ...>: Predictor must be Simultaneous<K>, Sequential<K> or Autoregressive");
  static_assert(accept::is_acceptance_rule<Accept>::value,
                "Decoder<..., Accept>: Accept must be accept::Greedy, accept::SpeculativeSampling or accept::Typical "
                "(or a rule that specialises accept::is_acceptance_rule)");
  static_assert(Predictor::mode != DraftMode::none || Skip::empty,
                "Decoder<..., Autoregressive, ...>: autoregressive decoding drafts nothing, so its SkipRange must be "
                "empty (use NoSkip)");
  static_assert(CheckActivations<Activations, typename Model::quant_type>::ok);
  static constexpr bool ok = true;
};

}  // namespace skippy::decode
