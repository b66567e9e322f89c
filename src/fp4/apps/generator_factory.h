// Opens the TextGenerator a command line asks for: a model folder run in process (-m DIR), or a running
// OpenAI-compatible server (--url). The CLI applications and eval use it, so both accept the same two
// sources.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fp4/apps/text_generator.h"
#include "fp4/runtime/engine.h"

namespace fp4::apps {

struct GeneratorSource {
  std::string model_dir;     // in process; exactly one of model_dir and url
  std::string url;           // http(s)://host:port of an OpenAI-compatible server
  std::string api_key;       // --url: Bearer key
  std::string served_model;  // --url: the "model" field (empty: the server's first model); in process: the
                             // name model_name() reports (empty: the folder's name)
  int threads = 0;           // in process: worker threads, 0 = every core
  runtime::EngineConfig engine;  // in process
};

// Throws fp4::Error when both or neither source is given, or when the model folder does not load.
// The returned generator owns the loaded model (and its engine thread) when in process.
std::unique_ptr<TextGenerator> open_generator(const GeneratorSource& source);

}  // namespace fp4::apps
