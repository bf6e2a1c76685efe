#pragma once
// Loading the bundled model (or a GGUF file given) in a chosen storage type, for the examples.

#include <skippy/skippy.hpp>

#include <memory>
#include <string>
#include <vector>

#ifndef SKIPPY_BUNDLED_MODEL
#error "SKIPPY_BUNDLED_MODEL (the path of examples/models/skippy-byte.gguf) is defined by examples/CMakeLists.txt"
#endif

namespace skippy::examples {

inline std::string bundled_model_path() { return SKIPPY_BUNDLED_MODEL; }

// A model in storage type Q: views the mapped file in place when its matrices are already Q, otherwise
// converts (F16 -> Q8_0/Q4_0 quantises, as skippy_gguf_convert would) into an owned HostModel.
template <class Q>
struct LoadedModel {
  explicit LoadedModel(const std::string& path) : file(gguf::File::open(path)) {
    // In place only when every matrix is Q: a file of mixed types (an F16 embedding beside Q8_0 layers)
    // converts like any other.
    bool in_place = true;
    for (const gguf::TensorInfo& t : file.tensors())
      if (t.dims.size() >= 2 && t.type != static_cast<std::uint32_t>(Q::ggml_type)) in_place = false;
    if (in_place) {
      view = gguf::view<Q>(file);
    } else {
      owned = std::make_unique<HostModel<Q>>(gguf::load_host_model<Q>(file));
      view = owned->view();
    }
    const auto s3d = gguf::load_s3d(file);
    if (s3d) trained = *s3d;
    context_length = gguf::context_length(file);
  }
  bool converted() const { return owned != nullptr; }

  gguf::File file;
  std::unique_ptr<HostModel<Q>> owned;
  ModelView<Q> view;
  gguf::S3dMetadata trained;  // the skip range and K the model was trained for (zeros when absent)
  int context_length = 0;     // positions the model was trained for (0: the file does not say)
};

// A prompt as the examples feed it: BOS, then the text's bytes. A vocabulary that names no BOS gets id 1,
// llama's.
inline std::vector<int> bos_prompt(const gguf::Vocabulary& vocab, const std::string& text) {
  std::vector<int> ids = {vocab.bos >= 0 ? vocab.bos : 1};
  const std::vector<int> bytes = vocab.encode_bytes(text);
  ids.insert(ids.end(), bytes.begin(), bytes.end());
  return ids;
}

// Past the trained context RoPE extrapolates (and the host's attention costs grow quadratically): refuse,
// as llama.cpp refuses a prompt longer than its context. `what` names the positions, `fix` how to use fewer.
inline void require_within_context(int context_length, long positions, const std::string& what, const char* fix) {
  require(context_length == 0 || positions <= context_length, what, " exceed the model's context of ",
          context_length, " positions (llama.context_length): ", fix);
}

}  // namespace skippy::examples
