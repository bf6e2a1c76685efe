// expect: autoregressive decoding drafts nothing
#include <skippy/skippy.hpp>
using D = skippy::host::Decoder<skippy::ModelView<skippy::quant::F32>, skippy::SkipRange<1, 2>, skippy::Autoregressive,
                                skippy::accept::Greedy>;
int main() { return sizeof(D) > 0 ? 0 : 1; }
