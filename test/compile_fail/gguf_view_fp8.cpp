// expect: gguf: this weight type has no ggml type id, so a GGUF file cannot hold it
#include <skippy/skippy.hpp>
int main() {
  const skippy::gguf::File f = skippy::gguf::File::from_memory({});
  return skippy::gguf::view<skippy::quant::F8_E4M3>(f).config.dim;
}
