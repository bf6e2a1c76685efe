#pragma once
// Which types are acceptance rules. A user-defined rule specialises is_acceptance_rule and provides
// Params, a (Params, vocab) constructor, propose() and verify() with the signatures of accept::Greedy.
// The decoders check what it returns (ids in the vocabulary, 0 <= accepted <= k) before using it; the
// CUDA decoder runs it on the host, on logits copied back.

#include <type_traits>

#include "greedy.hpp"
#include "speculative_sampling.hpp"
#include "typical.hpp"

namespace skippy::accept {

template <class T>
struct is_acceptance_rule : std::false_type {};
template <>
struct is_acceptance_rule<Greedy> : std::true_type {};
template <>
struct is_acceptance_rule<SpeculativeSampling> : std::true_type {};
template <>
struct is_acceptance_rule<Typical> : std::true_type {};

}  // namespace skippy::accept
