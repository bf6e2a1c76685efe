#pragma once
// The configurations the sweep instantiates: edit this list to run a different experiment. Each entry
// is a (SkipRange, predictor) pair; every one becomes its own fully specialised decoder type.

#include <skippy/skippy.hpp>

#include <algorithm>

namespace skippy::examples {

template <class Skip, class Pred>
struct SweepConfig {
  using skip = Skip;
  using predictor = Pred;
};

template <class... C>
struct SweepList {
  static constexpr int max_k = std::max({C::predictor::k...});  // the most drafts a step of the list makes
};

// The bundled model was trained for SkipRange<2, 6> with K = 4 mask predictors; the neighbours show what
// skipping more or fewer layers, other K and sequential drafting give on it.
using Sweep = SweepList<
    SweepConfig<SkipRange<3, 5>, Simultaneous<4>>, SweepConfig<SkipRange<2, 5>, Simultaneous<4>>,
    SweepConfig<SkipRange<2, 6>, Simultaneous<2>>, SweepConfig<SkipRange<2, 6>, Simultaneous<3>>,
    SweepConfig<SkipRange<2, 6>, Simultaneous<4>>, SweepConfig<SkipRange<2, 6>, Simultaneous<6>>,
    SweepConfig<SkipRange<1, 7>, Simultaneous<4>>, SweepConfig<SkipRange<3, 5>, Sequential<2>>,
    SweepConfig<SkipRange<3, 5>, Sequential<4>>, SweepConfig<SkipRange<2, 6>, Sequential<2>>,
    SweepConfig<SkipRange<2, 6>, Sequential<4>>>;

}  // namespace skippy::examples
