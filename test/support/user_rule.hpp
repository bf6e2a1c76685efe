#pragma once
// A user-defined acceptance rule: greedy acceptance written outside the library (so the CUDA decoder
// runs it on the host, on logits copied back), with the faults a broken rule could have, which the
// decoders must reject before the rule's ids reach a kernel.

#include <skippy/skippy.hpp>

namespace skippy::test {

class UserGreedy {
 public:
  enum class Fault { none, draft_id, accepted, next_id };
  struct Params {
    Fault fault = Fault::none;
  };

  UserGreedy(const Params& p, int vocab) : fault_(p.fault), vocab_(vocab), greedy_({}, vocab) {}

  int propose(int i, const float* draft_logits, const accept::StepContext& ctx) {
    return fault_ == Fault::draft_id ? vocab_ : greedy_.propose(i, draft_logits, ctx);
  }

  accept::Verdict verify(const float* target_logits, const int* drafts, int k,
                                 const accept::StepContext& ctx) const {
    accept::Verdict v = greedy_.verify(target_logits, drafts, k, ctx);
    if (fault_ == Fault::accepted) v.accepted = k + 1;
    if (fault_ == Fault::next_id) v.next = -1;
    return v;
  }

 private:
  Fault fault_;
  int vocab_;
  accept::Greedy greedy_;
};

}  // namespace skippy::test

namespace skippy::accept {
template <>
struct is_acceptance_rule<test::UserGreedy> : std::true_type {};
}  // namespace skippy::accept
