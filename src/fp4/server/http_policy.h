// Access policy of the HTTP layer: the API key check and CORS.
//
// API key: "Authorization: Bearer KEY", compared in time that depends only on the configured key's
// length, so response timing does not reveal how much of a guess was right.
// CORS: off unless origins are configured; then only those origins (or "*") get the
// Access-Control-Allow-* headers, and preflight OPTIONS requests are answered.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fp4::server {

bool constant_time_equals(std::string_view expected, std::string_view given);

// The credentials of "Bearer TOKEN" (scheme case-insensitive, surrounding spaces ignored), else nullopt.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// Paths served without the API key: liveness probes and the banner.
bool path_exempt_from_auth(std::string_view path);

class CorsPolicy {
 public:
  CorsPolicy() = default;
  // A comma-separated list of origins ("https://a.example,https://b.example") or "*". Throws fp4::Error
  // for an entry that is not an origin (scheme://host[:port], no path).
  static CorsPolicy parse(std::string_view comma_list);

  bool enabled() const { return any_ || !origins_.empty(); }
  bool allows(std::string_view origin) const;
  // The Access-Control-Allow-Origin value for a request's Origin: "*" when any origin is allowed, the
  // origin itself when listed, nullopt otherwise.
  std::optional<std::string> allow_origin_header(std::string_view origin) const;

  static constexpr std::string_view kAllowMethods = "GET, POST, OPTIONS";
  static constexpr std::string_view kAllowHeaders = "Authorization, Content-Type";
  static constexpr int kMaxAgeSeconds = 600;

 private:
  bool any_ = false;
  std::vector<std::string> origins_;
};

}  // namespace fp4::server
