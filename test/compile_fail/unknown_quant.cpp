// expect: ModelView<Q>: Q must be one of quant::F32, F16, BF16, F8_E4M3, Q8_0, Q4_0
#include <skippy/skippy.hpp>
int main() { return sizeof(skippy::ModelView<double>) > 0 ? 0 : 1; }
