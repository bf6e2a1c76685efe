// expect: the packed layout holds Q8_0 and Q4_0 matrices only
#include <skippy/skippy.hpp>
int main() { return skippy::quant::Packed<skippy::quant::F16>::parts; }
