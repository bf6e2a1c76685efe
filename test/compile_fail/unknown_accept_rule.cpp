// expect: Accept must be accept::Greedy
#include <skippy/skippy.hpp>
using D = skippy::host::Decoder<skippy::ModelView<skippy::quant::Q8_0>, skippy::SkipRange<1, 2>, skippy::Simultaneous<2>, int>;
int main() { return sizeof(D) > 0 ? 0 : 1; }
