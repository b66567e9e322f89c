// Command-line reading shared by the benchmark programs: `--flag value` pairs walked in order, numbers
// parsed strictly (a value that is not a whole number, or trailing junk, ends the program with one line
// naming the flag), and the command line collected for the report's "command:" line.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

namespace fp4::bench {

class ArgReader {
 public:
  ArgReader(const char* program, int argc, char** argv) : program_(program), argc_(argc), argv_(argv) {
    command_ = argv[0];
  }

  // The next argument, or false when all are read.
  bool next(std::string& arg) {
    if (++i_ >= argc_) return false;
    arg = argv_[i_];
    command_ += " " + arg;
    return true;
  }

  // The value after the current flag; exits 2 when there is none.
  std::string value(const std::string& flag) {
    if (i_ + 1 >= argc_) fail(flag, "needs a value");
    command_ += std::string(" ") + argv_[i_ + 1];
    return argv_[++i_];
  }

  int64_t integer(const std::string& flag) { return parse_integer(flag, value(flag)); }

  double number(const std::string& flag) {
    const std::string v = value(flag);
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size()) fail(flag, "expects a number, got '" + v + "'");
    return d;
  }

  int64_t parse_integer(const std::string& flag, const std::string& text) const {
    int64_t out = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      fail(flag, "expects a whole number, got '" + text + "'");
    }
    return out;
  }

  [[noreturn]] void fail(const std::string& flag, const std::string& what) const {
    std::fprintf(stderr, "%s: %s %s\n", program_, flag.c_str(), what.c_str());
    std::exit(2);
  }

  const std::string& command() const { return command_; }

 private:
  const char* program_;
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string command_;
};

}  // namespace fp4::bench
