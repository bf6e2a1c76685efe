#include <cmath>
#include <cstdio>
#include <skippy/gguf/gguf.hpp>
#include <skippy/skippy.hpp>
using namespace skippy;
template <class Q>
void one(const FloatWeights& w, const char* path, const std::vector<int>& toks, bool tied = false) {
  const auto hm = HostModel<Q>::from_float(w);
  auto mv = hm.view();
  if (tied) mv.output = mv.token_embd;
  gguf::write_model(path, mv);
  const gguf::File f = gguf::File::open(path);
  const auto v = gguf::view<Q>(f);
  host::Forward<Q> fwd(v);
  auto cache = fwd.make_cache(32);
  const int V = v.config.vocab;
  std::vector<float> lg(toks.size() * V);
  fwd.run(toks.data(), (int)toks.size(), 0, cache, LayerRange{}, lg.data());
  std::printf("{\"path\":\"%s\",\"probs\":[", path);
  for (size_t p = 0; p < toks.size(); ++p) {
    float mx = -1e30f; for (int i = 0; i < V; ++i) mx = std::fmax(mx, lg[p*V+i]);
    double s = 0; for (int i = 0; i < V; ++i) s += std::exp((double)lg[p*V+i]-mx);
    std::printf("%s[", p ? "," : "");
    for (int i = 0; i < V; ++i) std::printf("%s%.9g", i ? "," : "", std::exp((double)lg[p*V+i]-mx)/s);
    std::printf("]");
  }
  std::printf("]}\n");
}
int main() {
  ModelConfig c; c.n_layers = 4; c.dim = 128; c.n_heads = 4; c.n_kv_heads = 2; c.ffn_dim = 256; c.vocab = 288; c.mask_token_id = 259;
  auto w = FloatWeights::random(c, 7);
  for (auto& x : w.output) x *= 3.0f;  // sharper distributions
  std::vector<int> toks = {1, 3+'H', 3+'e', 3+'l', 3+'l', 3+'o', 3+' ', 3+'w', 3+'o', 3+'r', 3+'l', 3+'d'};
  one<quant::F32>(w, "/tmp/cmp/f32.gguf", toks);
  one<quant::F16>(w, "/tmp/cmp/f16.gguf", toks);
  one<quant::Q8_0>(w, "/tmp/cmp/q8.gguf", toks);
  one<quant::Q4_0>(w, "/tmp/cmp/q4.gguf", toks);
  one<quant::F32>(w, "/tmp/cmp/f32_tied.gguf", toks, true);
  one<quant::BF16>(w, "/tmp/cmp/bf16.gguf", toks);
}
