// expect: Sequential<K>: K exceeds skippy::max_predictors
#include <skippy/skippy.hpp>
int main() { return skippy::Sequential<33>::k; }
