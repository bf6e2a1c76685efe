// The host demo's decoders over Q4_0 weights (examples/demo_host.hpp).

#include "../demo_host.hpp"

namespace skippy::examples {
template int demo_host<quant::Q4_0>(const DemoOptions&);
}  // namespace skippy::examples
