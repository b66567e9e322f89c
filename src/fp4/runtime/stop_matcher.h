// Stop conditions on the detokenized text stream and on token ids.
//
// Stop strings can span token boundaries ("\n\n" from "\n" + "\n", "</answer>" from "</" + "answer>"), so
// the matcher holds back any tail of the text that could still grow into a stop string, releases it as
// soon as it cannot, and cuts the output right before the first stop string (OpenAI leaves the stop
// string out; include_stop_str_in_output keeps it, as vLLM's option of that name does).
//
// Use: for each generated token, first ask stop_token(id); if it is not one, push the token's text delta
// and emit the returned text; when generation ends for any other reason, emit flush().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/runtime/sampling_params.h"

namespace fp4::runtime {

class StopMatcher {
 public:
  StopMatcher(std::vector<std::string> stop_strings, std::vector<int32_t> stop_token_ids,
              bool include_stop_string = false);

  // From request parameters: params.stop, params.stop_token_ids and, unless params.ignore_eos, the
  // model's EOS ids.
  static StopMatcher from_params(const sampling::SamplingParams& params, const std::vector<int32_t>& eos_ids);

  // True when this token ends generation (a stop token id or EOS). Its text is not part of the output.
  bool stop_token(int32_t id) const;

  struct Release {
    std::string text;                   // safe to send to the client now
    std::optional<std::string> stopped;  // the stop string that ended generation, if one did
  };
  // Appends the next text delta. After a stop, further pushes return nothing.
  Release push(std::string_view delta);

  // Generation ended without a stop string: the held-back tail is real output.
  std::string flush();

  bool stopped() const { return stopped_; }
  size_t held_bytes() const { return pending_.size(); }

 private:
  std::vector<std::string> stops_;
  std::vector<int32_t> stop_ids_;
  bool include_stop_ = false;
  bool stopped_ = false;
  std::string pending_;  // text not yet released: always shorter than the longest stop string
};

}  // namespace fp4::runtime
