// Builds against the installed headers and decodes a few tokens: the package is complete and usable.
#include <skippy/skippy.hpp>

int main() {
  using namespace skippy;
  ModelConfig c;
  c.n_layers = 2;
  c.dim = 32;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.ffn_dim = 64;
  c.vocab = 16;
  c.mask_token_id = 15;
  const auto model = HostModel<quant::Q8_0>::random(c, 1);
  host::Decoder<ModelView<quant::Q8_0>, SkipRange<1, 2>, Simultaneous<2>, accept::Greedy> s3d(model.view(), 32, {});
  host::AutoregressiveDecoder<ModelView<quant::Q8_0>> ar(model.view(), 32, {});
  GenerateOptions o;
  o.max_new_tokens = 8;
  return s3d.generate({1, 2, 3}, o) == ar.generate({1, 2, 3}, o) ? 0 : 1;
}
