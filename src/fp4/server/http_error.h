// HTTP errors in the OpenAI shape. Every 4xx/5xx the server sends has the body
//   {"error": {"message": "...", "type": "...", "param": "field" | null, "code": "..." | null}}
// so OpenAI clients raise their usual exception classes (BadRequestError, AuthenticationError, ...) with
// the message. Request handling throws HttpError; the route wrapper turns it into the response.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "fp4/base/error.h"

namespace fp4::server {

class HttpError : public Error {
 public:
  HttpError(int status, std::string message, std::optional<std::string> param = std::nullopt,
            std::optional<std::string> code = std::nullopt);

  int status() const { return status_; }
  const std::optional<std::string>& param() const { return param_; }
  const std::optional<std::string>& code() const { return code_; }
  // Seconds for a Retry-After header (429 and 503), 0 when none.
  int retry_after_seconds() const { return retry_after_; }
  HttpError& with_retry_after(int seconds) {
    retry_after_ = seconds;
    return *this;
  }

 private:
  int status_;
  std::optional<std::string> param_;
  std::optional<std::string> code_;
  int retry_after_ = 0;
};

// The OpenAI error "type" for a status: invalid_request_error (400, 404, 405, 413, 415),
// authentication_error (401), permission_error (403), rate_limit_error (429), server_error (5xx).
std::string error_type_for_status(int status);

// {"error": {...}} for a status and message.
nlohmann::ordered_json error_body(int status, const std::string& message,
                                  const std::optional<std::string>& param = std::nullopt,
                                  const std::optional<std::string>& code = std::nullopt);
nlohmann::ordered_json error_body(const HttpError& error);

// A 400 for a request field: message "FIELD: what was wrong", param FIELD.
[[noreturn]] void reject_field(const std::string& field, const std::string& problem);

// The field a sampling validation message names (`sampling: "top_p" is 1.5, ...` → top_p), if any.
std::optional<std::string> field_named_in(const std::string& message);

// The short text of a status ("Bad Request", ...), for messages of errors the HTTP layer raises itself.
std::string status_text(int status);

}  // namespace fp4::server
