#pragma once
// The demo's host backend: host::Decoder over every combination of the lists below, 3 x 6 x 3 = 54
// decoders per storage type. Each storage type is instantiated in its own translation unit
// (examples/demo_host/*.cpp), so that a build spreads the demo's 162 decoders over its cores.

#include "demo_run.hpp"

namespace skippy::examples {

// Extend the lists to offer more combinations.
using HostSkips = TypeList<SkipRange<2, 6>, SkipRange<3, 5>, SkipRange<1, 7>>;
using HostPredictors =
    TypeList<Simultaneous<2>, Simultaneous<4>, Simultaneous<6>, Sequential<2>, Sequential<4>, Sequential<6>>;
using HostRules = TypeList<accept::Greedy, accept::SpeculativeSampling, accept::Typical>;

// The demo on the host with weights stored as Q (the file's F16 in place, or converted).
template <class Q>
int demo_host(const DemoOptions& o) {
  const LoadedModel<Q> m(o.model);
  const gguf::Vocabulary vocab = gguf::Vocabulary::load(m.file);
  const auto [b, e] = skip_range_of(m, o);
  int rc = -1;
  const bool found = dispatch_policies<HostSkips, HostPredictors, HostRules>(o, b, e, [&](auto s, auto p, auto r) {
    rc = demo<host::Decoder, Q, typename decltype(s)::type, typename decltype(p)::type, typename decltype(r)::type>(
        m, m.view, vocab, o, "host (CPU)");
  });
  require(found, "--skip ", b, ":", e, " --k ", o.k, " --draft ", o.draft,
          " is not instantiated (choose --skip 2:6|3:5|1:7, --k 2|4|6)");
  return rc;
}

extern template int demo_host<quant::F16>(const DemoOptions&);
extern template int demo_host<quant::Q8_0>(const DemoOptions&);
extern template int demo_host<quant::Q4_0>(const DemoOptions&);

}  // namespace skippy::examples
