#include "fp4/server/http_error.h"

namespace fp4::server {

HttpError::HttpError(int status, std::string message, std::optional<std::string> param,
                     std::optional<std::string> code)
    : Error(std::move(message)), status_(status), param_(std::move(param)), code_(std::move(code)) {}

std::string error_type_for_status(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 429:
      return "rate_limit_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

nlohmann::ordered_json error_body(int status, const std::string& message, const std::optional<std::string>& param,
                                  const std::optional<std::string>& code) {
  nlohmann::ordered_json inner;
  inner["message"] = message;
  inner["type"] = error_type_for_status(status);
  inner["param"] = param ? nlohmann::ordered_json(*param) : nlohmann::ordered_json(nullptr);
  inner["code"] = code ? nlohmann::ordered_json(*code) : nlohmann::ordered_json(nullptr);
  nlohmann::ordered_json body;
  body["error"] = std::move(inner);
  return body;
}

nlohmann::ordered_json error_body(const HttpError& error) {
  return error_body(error.status(), error.what(), error.param(), error.code());
}

void reject_field(const std::string& field, const std::string& problem) {
  throw HttpError(400, fmt::format("\"{}\": {}", field, problem), field);
}

std::optional<std::string> field_named_in(const std::string& message) {
  const size_t open = message.find('"');
  if (open == std::string::npos) return std::nullopt;
  const size_t close = message.find('"', open + 1);
  if (close == std::string::npos || close == open + 1) return std::nullopt;
  return message.substr(open + 1, close - open - 1);
}

std::string status_text(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return fmt::format("HTTP {}", status);
  }
}

}  // namespace fp4::server
