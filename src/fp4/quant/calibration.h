// Calibration for `fp4serve quantize --calib FILE.jsonl`: runs the input model over sample texts and
// records, for every linear, the largest |activation| that reached it (per expert for MoE experts: only
// the tokens routed to that expert count). The quantizer turns amax into input_scale = amax / (6 · 448),
// the per-tensor activation scale ModelOpt's NVFP4 checkpoints carry for engines that quantize
// activations to FP4 (Blackwell W4A4 kernels).
//
// The file: one JSON object per line, {"text": "..."} (tokenized with the tokenizer's BOS) or
// {"messages": [{"role": ..., "content": ...}, ...]} (rendered with the model's chat template and the
// generation prompt). `chat_template_text` renders plain "text" lines as one user message too.
//
// Experts that no calibration token reached get the largest amax of the calibrated experts of the same
// layer and projection (a conservative scale: their inputs are the same hidden states the busiest expert
// saw). Linears with no observation at all keep the quantizer's default.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fp4::quant {

struct CalibrationOptions {
  std::string file;                 // JSONL as above
  bool chat_template_text = false;  // render "text" lines as a user message through the chat template
  int64_t max_tokens = 2048;        // per text; longer texts are cut (their first tokens are kept)
  int64_t max_samples = 0;          // 0: every line
  int threads = 0;                  // 0: every core
};

struct CalibrationResult {
  std::map<std::string, float> amax;  // module → activation amax (observed or filled in for experts)
  int64_t samples = 0;
  int64_t tokens = 0;
  int64_t filled_experts = 0;  // experts that got their layer's max because no token reached them
};

// One sample of the calibration file, already turned into token ids.
std::vector<std::vector<int32_t>> read_calibration_samples(const std::string& model_dir,
                                                           const CalibrationOptions& options);

// Runs the model of `model_dir` over the samples. on_sample (optional) gets (done, total) after each.
// Throws fp4::Error naming the file and line for a malformed sample, or the model's load error.
CalibrationResult calibrate(const std::string& model_dir, const CalibrationOptions& options,
                            const std::function<void(int64_t done, int64_t total)>& on_sample = {});

// Expert fill-in rule (exposed for tests): for every `<prefix>.experts.<e>.<proj>` in `modules` missing
// from `amax`, sets the max over the present experts with the same prefix and proj. Returns the count.
int64_t fill_unrouted_experts(const std::vector<std::string>& modules, std::map<std::string, float>& amax);

}  // namespace fp4::quant
