#include "fp4/runtime/stop_matcher.h"

#include <algorithm>

namespace fp4::runtime {

StopMatcher::StopMatcher(std::vector<std::string> stop_strings, std::vector<int32_t> stop_token_ids,
                         bool include_stop_string)
    : stops_(std::move(stop_strings)), stop_ids_(std::move(stop_token_ids)), include_stop_(include_stop_string) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });  // an empty stop would match at once
  std::sort(stop_ids_.begin(), stop_ids_.end());
  stop_ids_.erase(std::unique(stop_ids_.begin(), stop_ids_.end()), stop_ids_.end());
}

StopMatcher StopMatcher::from_params(const sampling::SamplingParams& params, const std::vector<int32_t>& eos_ids) {
  std::vector<int32_t> ids = params.stop_token_ids;
  if (!params.ignore_eos) ids.insert(ids.end(), eos_ids.begin(), eos_ids.end());
  return StopMatcher(params.stop, std::move(ids), params.include_stop_str_in_output);
}

bool StopMatcher::stop_token(int32_t id) const { return std::binary_search(stop_ids_.begin(), stop_ids_.end(), id); }

StopMatcher::Release StopMatcher::push(std::string_view delta) {
  Release out;
  if (stopped_) return out;
  pending_.append(delta);

  // The earliest stop string in the pending text (the longest one when two start at the same place).
  // pending_ held no complete stop string before this delta, so any match ends inside the new text.
  size_t best_pos = std::string::npos;
  const std::string* best = nullptr;
  for (const std::string& s : stops_) {
    const size_t pos = pending_.find(s);
    if (pos != std::string::npos && (pos < best_pos || (pos == best_pos && s.size() > best->size()))) {
      best_pos = pos;
      best = &s;
    }
  }
  if (best != nullptr) {
    stopped_ = true;
    out.text = pending_.substr(0, include_stop_ ? best_pos + best->size() : best_pos);
    out.stopped = *best;
    pending_.clear();
    return out;
  }

  // Hold back the longest tail that is a proper prefix of some stop string; the rest can never be part
  // of a match (a match would have to start inside it and was not found).
  size_t hold = 0;
  for (const std::string& s : stops_) {
    for (size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  out.text = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::flush() {
  std::string out = std::move(pending_);
  pending_.clear();
  return out;
}

}  // namespace fp4::runtime
