// expect: SkipRange<B, E>: B must not exceed E
#include <skippy/skippy.hpp>
int main() { return skippy::SkipRange<5, 3>::skipped; }
