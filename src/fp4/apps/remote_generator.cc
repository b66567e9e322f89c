#include "fp4/apps/remote_generator.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

using nlohmann::json;

constexpr std::string_view kChatPath = "/v1/chat/completions";
constexpr std::string_view kCompletionsPath = "/v1/completions";
constexpr std::string_view kModelsPath = "/v1/models";

std::string optional_string(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t optional_count(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

ServerUrl ServerUrl::parse(std::string_view url) {
  ServerUrl u;
  const size_t scheme_end = url.find("://");
  FP4_CHECK(scheme_end != std::string_view::npos, "--url \"{}\": expected http://HOST[:PORT] or https://HOST[:PORT]",
            url);
  u.scheme = std::string(url.substr(0, scheme_end));
  std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  FP4_CHECK(u.scheme == "http" || u.scheme == "https", "--url \"{}\": the scheme is \"{}\", expected http or https", url,
            u.scheme);
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t slash = std::min(rest.find('/'), rest.size());
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = rest.substr(slash);
  FP4_CHECK(authority.find('@') == std::string_view::npos,
            "--url \"{}\": credentials in the URL are not supported; use --api-key", url);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {  // [::1]:8000
    const size_t close = authority.find(']');
    FP4_CHECK(close != std::string_view::npos, "--url \"{}\": unterminated IPv6 address", url);
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      FP4_CHECK(after.front() == ':', "--url \"{}\": expected ':PORT' after the IPv6 address", url);
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  FP4_CHECK(!u.host.empty(), "--url \"{}\": no host", url);
  u.port = u.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    FP4_CHECK(ec == std::errc() && end == port_text.data() + port_text.size() && port >= 1 && port <= 65535,
              "--url \"{}\": the port \"{}\" is not a number in [1, 65535]", url, port_text);
    u.port = port;
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.size() >= 3 && path.substr(path.size() - 3) == "/v1") path.remove_suffix(3);
  FP4_CHECK(path.find_first_of("?#") == std::string_view::npos, "--url \"{}\": a query or fragment is not allowed", url);
  u.base_path = std::string(path);
  return u;
}

std::string ServerUrl::origin() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return scheme + "://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

RemoteGenerator::RemoteGenerator(std::string url, std::string api_key, std::string model, RemoteTimeouts timeouts)
    : url_(ServerUrl::parse(url)), api_key_(std::move(api_key)), timeouts_(timeouts), model_(std::move(model)) {
  for (char c : api_key_) {
    FP4_CHECK(c > ' ' && c != 0x7F, "--api-key: the key holds a space or control character");
  }
}

json RemoteGenerator::request_body(const GenerationRequest& request, const std::string& model) {
  const bool chat = !request.messages.empty();
  FP4_CHECK(chat != request.prompt.has_value(), "generate: give either chat messages or a raw prompt (got {})",
            chat ? "both" : "neither");
  json body = json::object();
  body["model"] = model;
  if (chat) {
    json messages = json::array();
    for (const ChatMessage& m : request.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    body["messages"] = std::move(messages);
    if (request.template_kwargs.is_object() && !request.template_kwargs.empty()) {
      body["chat_template_kwargs"] = json::parse(request.template_kwargs.dump());
    }
  } else {
    body["prompt"] = *request.prompt;
  }
  const runtime::sampling::SamplingRequest& s = request.sampling;
  auto put = [&body](const char* name, const auto& field) {
    if (field) body[name] = *field;
  };
  put("temperature", s.temperature);
  put("top_p", s.top_p);
  put("top_k", s.top_k);
  put("min_p", s.min_p);
  put("repetition_penalty", s.repetition_penalty);
  put("presence_penalty", s.presence_penalty);
  put("frequency_penalty", s.frequency_penalty);
  put("seed", s.seed);
  put("max_tokens", s.max_tokens);
  put("max_reasoning_tokens", s.max_reasoning_tokens);
  put("stop", s.stop);
  put("stop_token_ids", s.stop_token_ids);
  put("include_stop_str_in_output", s.include_stop_str_in_output);
  put("ignore_eos", s.ignore_eos);
  put("n", s.n);
  body["stream"] = false;
  return body;
}

GenerationResponse RemoteGenerator::parse_response(const json& response, bool chat, std::string_view origin) {
  FP4_CHECK(response.is_object() && response.contains("choices") && response["choices"].is_array(),
            "{}: the response has no \"choices\" array (not an OpenAI-compatible server?)", origin);
  std::vector<std::pair<int64_t, GeneratedText>> indexed;
  for (const json& choice : response["choices"]) {
    FP4_CHECK(choice.is_object(), "{}: a choice is not an object", origin);
    GeneratedText text;
    if (chat) {
      auto message = choice.find("message");
      FP4_CHECK(message != choice.end() && message->is_object(), "{}: a chat choice has no \"message\" object", origin);
      text.content = optional_string(*message, "content");  // null when the model only reasoned
      text.reasoning = optional_string(*message, "reasoning_content");
      if (text.reasoning.empty()) text.reasoning = optional_string(*message, "reasoning");
    } else {
      FP4_CHECK(choice.contains("text") && choice["text"].is_string(), "{}: a completion choice has no \"text\"",
                origin);
      text.content = choice["text"].get<std::string>();
      text.reasoning = optional_string(choice, "reasoning_content");
    }
    text.finish_reason = optional_string(choice, "finish_reason");
    const int64_t index = optional_count(choice, "index");
    indexed.emplace_back(index, std::move(text));
  }
  std::stable_sort(indexed.begin(), indexed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  GenerationResponse out;
  for (auto& [index, text] : indexed) out.choices.push_back(std::move(text));
  if (auto usage = response.find("usage"); usage != response.end() && usage->is_object()) {
    out.prompt_tokens = optional_count(*usage, "prompt_tokens");
    out.completion_tokens = optional_count(*usage, "completion_tokens");
  }
  return out;
}

std::string RemoteGenerator::error_message(std::string_view body) {
  std::string message;
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    if (auto e = doc.find("error"); e != doc.end()) {
      if (e->is_object()) message = optional_string(*e, "message");
      if (e->is_string()) message = e->get<std::string>();
    }
    if (message.empty()) message = optional_string(doc, "message");
    if (message.empty() && doc.contains("detail")) {
      message = doc["detail"].is_string() ? doc["detail"].get<std::string>() : doc["detail"].dump();
    }
  }
  if (message.empty()) message = std::string(body);
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::replace(message.begin(), message.end(), '\r', ' ');
  if (message.size() > 300) message = message.substr(0, 297) + "...";
  return message.empty() ? "(empty body)" : message;
}

namespace {

// One request on a fresh connection: httplib clients are not safe to share between threads.
template <typename Send>
json call(const ServerUrl& url, const std::string& api_key, const RemoteTimeouts& timeouts, const std::string& path,
          Send send) {
  httplib::Client client(url.origin());
  FP4_CHECK(client.is_valid(), "{}: cannot create an HTTP client for this address", url.origin());
  client.set_connection_timeout(static_cast<time_t>(timeouts.connect.count()), 0);
  client.set_read_timeout(static_cast<time_t>(timeouts.read.count()), 0);
  client.set_write_timeout(static_cast<time_t>(timeouts.write.count()), 0);
  if (!api_key.empty()) client.set_bearer_token_auth(api_key);
  const std::string where = url.origin() + path;
  httplib::Result result = send(client, url.base_path + path);
  if (!result) {
    const httplib::Error error = result.error();
    fail("{}: request failed: {}{}", where, httplib::to_string(error),
         error == httplib::Error::Read ? fmt::format(" (no complete response within {} s)", timeouts.read.count())
                                       : std::string());
  }
  if (result->status < 200 || result->status >= 300) {
    fail("{}: HTTP {}: {}", where, result->status, RemoteGenerator::error_message(result->body));
  }
  json doc = json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  FP4_CHECK(!doc.is_discarded(), "{}: the response is not JSON: {}", where, RemoteGenerator::error_message(result->body));
  return doc;
}

}  // namespace

json RemoteGenerator::post(const std::string& path, const json& body) const {
  const std::string payload = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return call(url_, api_key_, timeouts_, path, [&payload](httplib::Client& client, const std::string& full_path) {
    return client.Post(full_path, payload, "application/json");
  });
}

json RemoteGenerator::get(const std::string& path) const {
  return call(url_, api_key_, timeouts_, path,
              [](httplib::Client& client, const std::string& full_path) { return client.Get(full_path); });
}

std::string RemoteGenerator::resolved_model() const {
  std::lock_guard<std::mutex> lock(model_mutex_);
  if (!model_.empty()) return model_;
  const json models = get(std::string(kModelsPath));
  const std::string where = url_.origin() + std::string(kModelsPath);
  FP4_CHECK(models.is_object() && models.contains("data") && models["data"].is_array() && !models["data"].empty(),
            "{}: the server lists no model; pass the model name", where);
  const json& first = models["data"][0];
  FP4_CHECK(first.is_object() && first.contains("id") && first["id"].is_string(), "{}: data[0] has no \"id\"", where);
  model_ = first["id"].get<std::string>();
  return model_;
}

std::string RemoteGenerator::model_name() const { return resolved_model(); }

GenerationResponse RemoteGenerator::generate(const GenerationRequest& request) {
  const bool chat = !request.messages.empty();
  const json body = request_body(request, resolved_model());
  const std::string path(chat ? kChatPath : kCompletionsPath);
  const json response = post(path, body);
  return parse_response(response, chat, url_.origin() + path);
}

}  // namespace fp4::apps
