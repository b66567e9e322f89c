#include "fp4/server/sse.h"

namespace fp4::server {

std::string json_text(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string sse_event(const nlohmann::ordered_json& payload) {
  std::string out = "data: ";
  out += json_text(payload);
  out += "\n\n";
  return out;
}

std::string sse_done() { return "data: [DONE]\n\n"; }

std::string sse_comment(std::string_view text) {
  std::string out = ": ";
  for (char c : text) {
    if (c != '\n' && c != '\r') out.push_back(c);
  }
  out += "\n\n";
  return out;
}

}  // namespace fp4::server
