// The host demo's decoders over F16 weights (examples/demo_host.hpp).

#include "../demo_host.hpp"

namespace skippy::examples {
template int demo_host<quant::F16>(const DemoOptions&);
}  // namespace skippy::examples
