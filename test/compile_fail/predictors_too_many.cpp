// expect: Simultaneous<K>: K exceeds skippy::max_predictors
#include <skippy/skippy.hpp>
int main() { return skippy::Simultaneous<33>::k; }
