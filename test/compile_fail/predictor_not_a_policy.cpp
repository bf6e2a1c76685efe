// expect: Predictor must be Simultaneous<K>, Sequential<K> or Autoregressive
#include <skippy/skippy.hpp>
using D = skippy::host::Decoder<skippy::ModelView<skippy::quant::Q4_0>, skippy::SkipRange<1, 2>, float, skippy::accept::Greedy>;
int main() { return sizeof(D) > 0 ? 0 : 1; }
