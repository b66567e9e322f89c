// Shared fixture of the engine tests: the shipped tiny-r1 model, loaded once per test binary.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fp4/runtime/engine.h"
#include "fp4/runtime/served_model.h"

namespace fp4::runtime::test {

inline std::string tiny_r1_dir() { return std::string(FP4_SOURCE_DIR) + "/models/tiny-r1"; }

inline std::vector<int32_t> token_ids(const CompletionResult& c) {
  std::vector<int32_t> ids;
  for (const TokenOutput& t : c.tokens) ids.push_back(t.token);
  return ids;
}

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!served_) {
      EngineConfig c;
      c.max_num_seqs = 4;
      c.kv_cache_tokens = 4096;
      served_ = ServedModel::load(tiny_r1_dir(), c, /*threads=*/2).release();
    }
  }
  // Shared by every test of the binary; the process exit reclaims it.
  static ServedModel& served() { return *served_; }

  // A small engine configuration: short context, a modest cache.
  static EngineConfig small_config() {
    EngineConfig c;
    c.max_num_seqs = 16;
    c.max_num_batched_tokens = 256;
    c.max_model_len = 512;
    c.kv_cache_tokens = 4096;
    return c;
  }

  static sampling::SamplingParams greedy_params(int64_t max_tokens) {
    sampling::SamplingParams p;
    p.temperature = 0.0;
    p.max_tokens = max_tokens;
    return p;
  }

  static sampling::SamplingParams seeded_params(int64_t max_tokens, int64_t seed) {
    sampling::SamplingParams p;
    p.temperature = 1.0;
    p.top_p = 0.95;
    p.seed = seed;
    p.max_tokens = max_tokens;
    return p;
  }

  static std::vector<int32_t> chat_prompt(const std::string& user) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    messages.push_back({{"role", "user"}, {"content", user}});
    return served().encode_chat(messages, nullptr, nlohmann::ordered_json::object());
  }

 private:
  static inline ServedModel* served_ = nullptr;
};

}  // namespace fp4::runtime::test
