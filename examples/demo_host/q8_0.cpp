// The host demo's decoders over Q8_0 weights (examples/demo_host.hpp).

#include "../demo_host.hpp"

namespace skippy::examples {
template int demo_host<quant::Q8_0>(const DemoOptions&);
}  // namespace skippy::examples
