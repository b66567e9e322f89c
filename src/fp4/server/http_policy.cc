#include "fp4/server/http_policy.h"

#include <cctype>

#include "fp4/base/error.h"

namespace fp4::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool constant_time_equals(std::string_view expected, std::string_view given) {
  // Every byte of `expected` is visited whatever `given` holds; the length difference is folded into the
  // same accumulator instead of returning early.
  volatile unsigned char diff = expected.size() == given.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(expected[i]) ^ g));
  }
  return diff == 0;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  authorization = trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  if (authorization[kScheme.size()] != ' ') return std::nullopt;
  std::string_view token = trim(authorization.substr(kScheme.size() + 1));
  if (token.empty()) return std::nullopt;
  return token;
}

bool path_exempt_from_auth(std::string_view path) { return path == "/" || path == "/health"; }

CorsPolicy CorsPolicy::parse(std::string_view list) {
  CorsPolicy p;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    std::string_view entry = trim(list.substr(start, comma - start));
    start = comma + 1;
    if (entry.empty()) continue;
    if (entry == "*") {
      p.any_ = true;
      continue;
    }
    const size_t scheme_end = entry.find("://");
    const bool ok = scheme_end != std::string_view::npos && scheme_end > 0 && entry.size() > scheme_end + 3 &&
                    entry.find('/', scheme_end + 3) == std::string_view::npos;
    FP4_CHECK(ok, "--cors-origin: '{}' is not an origin (expected scheme://host[:port], e.g. https://app.example)",
              entry);
    p.origins_.emplace_back(entry);
  }
  return p;
}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty()) return false;
  if (any_) return true;
  for (const std::string& o : origins_) {
    if (o == origin) return true;
  }
  return false;
}

std::optional<std::string> CorsPolicy::allow_origin_header(std::string_view origin) const {
  if (!allows(origin)) return std::nullopt;
  return any_ ? std::string("*") : std::string(origin);
}

}  // namespace fp4::server
