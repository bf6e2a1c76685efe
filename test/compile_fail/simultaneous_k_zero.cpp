// expect: Simultaneous<K>: K must be at least 1
#include <skippy/skippy.hpp>
int main() { return skippy::Simultaneous<0>::k; }
