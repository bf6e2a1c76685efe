#pragma once
// GGUF model files (llama.cpp's format): reader, writer, vocabulary and the llama model mapping.

#include "format.hpp"
#include "model.hpp"
#include "reader.hpp"
#include "vocab.hpp"
#include "writer.hpp"
