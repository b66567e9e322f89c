#include "fp4/apps/boxed_answer.h"

#include <algorithm>
#include <array>

namespace fp4::apps {
namespace {

constexpr std::array<std::string_view, 2> kBoxCommands = {"boxed", "fbox"};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The length of the box command name starting at `at` (just after a backslash), or 0 when none starts
// there. A TeX control word ends at the first non-letter, so `\boxedtext` is not `\boxed`.
size_t command_length(std::string_view text, size_t at) {
  for (std::string_view name : kBoxCommands) {
    if (text.compare(at, name.size(), name) != 0) continue;
    const size_t after = at + name.size();
    if (after < text.size() && is_ascii_letter(text[after])) continue;
    return name.size();
  }
  return 0;
}

// Index of the '}' matching the '{' at `open`, or npos. A backslash escapes the next character, so
// `\{`, `\}` and `\\` never change the depth.
size_t matching_brace(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t k = open; k < text.size(); ++k) {
    const char c = text[k];
    if (c == '\\') {
      ++k;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (--depth == 0) return k;
    }
  }
  return std::string_view::npos;
}

// `\boxed{\boxed{7}}` is the box 7: unwrap while the whole content is exactly one box.
std::string unwrap(std::string_view content) {
  content = trim(content);
  const std::vector<BoxedSpan> inner = find_boxed(content);
  // The recursive find_boxed already unwrapped the inner box's own content.
  if (inner.size() == 1 && inner[0].begin == 0 && inner[0].end == content.size()) return inner[0].content;
  return std::string(content);
}

}  // namespace

std::vector<BoxedSpan> find_boxed(std::string_view text) {
  std::vector<BoxedSpan> boxes;
  size_t i = 0;
  while (i < text.size()) {
    const size_t slash = text.find('\\', i);
    if (slash == std::string_view::npos) break;
    const size_t name_length = command_length(text, slash + 1);
    if (name_length == 0) {
      i = slash + 1;
      continue;
    }
    size_t j = slash + 1 + name_length;
    bool crossed_line = false;
    while (j < text.size() && is_space(text[j])) {
      crossed_line |= text[j] == '\n' || text[j] == '\r';
      ++j;
    }
    if (j < text.size() && text[j] == '{') {
      const size_t close = matching_brace(text, j);
      if (close == std::string_view::npos) {
        // Cut off before its closing brace: not an answer. Keep scanning after the brace so that a
        // later complete box is still found.
        i = j + 1;
        continue;
      }
      std::string content = unwrap(text.substr(j + 1, close - j - 1));
      if (!content.empty()) boxes.push_back({std::move(content), slash, close + 1, true});
      i = close + 1;  // boxes nested inside belong to this one
      continue;
    }
    // `\boxed 5`: the run up to whitespace, `$` or a closing brace of an enclosing group, on the same line.
    size_t k = j;
    if (!crossed_line) {
      while (k < text.size() && !is_space(text[k]) && text[k] != '$' && text[k] != '}') ++k;
    }
    size_t token_end = k;
    while (token_end > j && std::string_view(".,;:!?").find(text[token_end - 1]) != std::string_view::npos) {
      --token_end;
    }
    if (token_end > j) boxes.push_back({std::string(text.substr(j, token_end - j)), slash, token_end, false});
    i = std::max(k, slash + 1 + name_length);
  }
  return boxes;
}

std::optional<std::string> last_boxed_answer(std::string_view text) {
  std::vector<BoxedSpan> boxes = find_boxed(text);
  if (boxes.empty()) return std::nullopt;
  return std::move(boxes.back().content);
}

}  // namespace fp4::apps
