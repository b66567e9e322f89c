// Errors: every failure the user can cause (bad file, bad field, bad request) is reported as one line
// naming what was wrong and where. Load-time code throws fp4::Error; the CLI and the server turn it into
// a message and an exit code or an HTTP status. Hot loops never throw.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace fp4 {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws fp4::Error with a fmt-formatted one-line message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace fp4

// FP4_CHECK(cond, "fmt {}", args...): throws fp4::Error with the message when cond is false.
#define FP4_CHECK(cond, ...)      \
  do {                            \
    if (!(cond)) {                \
      ::fp4::fail(__VA_ARGS__);   \
    }                             \
  } while (0)
