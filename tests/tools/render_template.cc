// Renders chat templates for the Python reference test (tests/python/test_chat_templates.py), one JSON
// request per input line, one JSON result per output line:
//   in:  {"id": ..., "config": "tokenizer_config.json path"  |  "template": "...", "special_tokens": {...},
//         "messages": [...], "tools": [...] | null, "add_generation_prompt": bool, "extra": {...}}
//   out: {"id": ..., "text": "..."}  or  {"id": ..., "error": "..."}
// Templates are compiled once per config path or template text and reused across lines.
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>
#include <string>

#include "fp4/base/error.h"
#include "fp4/chat/chat_template.h"

namespace {

using nlohmann::ordered_json;

const fp4::chat::ChatTemplate& template_for(const ordered_json& request,
                                            std::map<std::string, fp4::chat::ChatTemplate>& cache) {
  if (request.contains("config")) {
    const std::string path = request["config"].get<std::string>();
    auto it = cache.find("config:" + path);
    if (it == cache.end()) {
      it = cache.emplace("config:" + path, fp4::chat::ChatTemplate::from_tokenizer_config_file(path)).first;
    }
    return it->second;
  }
  const std::string source = request.value("template", std::string());
  const ordered_json tokens = request.value("special_tokens", ordered_json::object());
  const std::string key = "template:" + tokens.dump() + "\n" + source;
  auto it = cache.find(key);
  if (it == cache.end()) {
    it = cache.emplace(key, fp4::chat::ChatTemplate::from_source(source, tokens, "template")).first;
  }
  return it->second;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::map<std::string, fp4::chat::ChatTemplate> cache;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    ordered_json result = ordered_json::object();
    try {
      const ordered_json request = ordered_json::parse(line);
      result["id"] = request.value("id", ordered_json());
      const auto& chat_template = template_for(request, cache);
      result["text"] = chat_template.render(request.value("messages", ordered_json::array()),
                                            request.value("tools", ordered_json()),
                                            request.value("add_generation_prompt", false),
                                            request.value("extra", ordered_json::object()));
    } catch (const fp4::Error& e) {
      result["error"] = e.what();
    } catch (const nlohmann::json::exception& e) {
      result["error"] = std::string("bad request line: ") + e.what();
    }
    std::cout << result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  return 0;
}
