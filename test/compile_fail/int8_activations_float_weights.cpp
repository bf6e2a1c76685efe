// expect: 8-bit activations serve Q8_0 and Q4_0 weights only
#include <skippy/skippy.hpp>
using D = skippy::host::Decoder<skippy::ModelView<skippy::quant::F16>, skippy::SkipRange<1, 2>, skippy::Simultaneous<2>,
                                skippy::accept::Greedy, skippy::Int8Activations>;
int main() { return sizeof(D) > 0 ? 0 : 1; }
