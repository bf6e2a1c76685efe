// expect: Sequential<K>: K must be at least 1
#include <skippy/skippy.hpp>
int main() { return skippy::Sequential<0>::k; }
