// expect: SkipRange<B, E>: B must be >= 0
#include <skippy/skippy.hpp>
int main() { return skippy::SkipRange<-1, 3>::skipped; }
