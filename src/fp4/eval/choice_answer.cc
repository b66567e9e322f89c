#include "fp4/eval/choice_answer.h"

#include <array>
#include <cctype>
#include <string>

#include "fp4/apps/boxed_answer.h"

namespace fp4::eval {
namespace {

bool is_ascii_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

bool valid_letter(char c, int num_options) { return c >= 'A' && c < 'A' + num_options; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Skips what may sit between a marker and the letter: spaces, '*', '(', '[', '$', ':', '\text{', '\textbf{',
// and the words "option" / "choice".
size_t skip_decoration(std::string_view s, size_t i) {
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '*' || c == '(' || c == '[' || c == '$' || c == ':' || c == '{' || c == '\n' || c == '_') {
      ++i;
      continue;
    }
    bool skipped = false;
    for (std::string_view word : {"\\textbf", "\\text", "\\mathrm", "\\boxed", "option", "choice", "Option", "Choice"}) {
      if (s.substr(i, word.size()) == word) {
        i += word.size();
        skipped = true;
        break;
      }
    }
    if (!skipped) break;
  }
  return i;
}

// The letter at s[i] when it stands alone: not followed by another ASCII letter.
std::optional<char> standalone_letter(std::string_view s, size_t i, int num_options) {
  if (i >= s.size() || !valid_letter(s[i], num_options)) return std::nullopt;
  if (i + 1 < s.size() && is_ascii_alpha(s[i + 1])) return std::nullopt;
  return s[i];
}

// The content of a box as a single letter: "C", "(C)", "\text{C}", "C. 42", "C) 42".
std::optional<char> letter_of_box(std::string_view content, int num_options) {
  const size_t i = skip_decoration(content, 0);
  auto letter = standalone_letter(content, i, num_options);
  if (!letter) return std::nullopt;
  size_t j = i + 1;
  while (j < content.size() && (content[j] == ')' || content[j] == '}' || content[j] == ']' || content[j] == '*' ||
                                content[j] == ' ')) {
    ++j;
  }
  if (j == content.size() || content[j] == '.' || content[j] == ':' || content[j] == ',' ||
      (j > i + 1 && content[j - 1] == ')')) {
    return letter;
  }
  return std::nullopt;
}

std::optional<char> from_statements(std::string_view text, int num_options) {
  static const std::array<std::string_view, 12> kMarkers = {
      "answer is", "answer:", "answer would be", "answer should be", "correct option is", "correct choice is",
      "option is", "choice is", "\xeb\x8b\xb5:", /* 답: */ "\xeb\x8b\xb5\xec\x9d\x80", /* 답은 */
      "\xeb\x8b\xb5\xec\x9d\xb4", /* 답이 */ "\xeb\x8b\xb5 :"};
  const std::string low = lower(text);
  std::optional<char> best;
  size_t best_pos = 0;
  for (std::string_view marker : kMarkers) {
    size_t pos = 0;
    while ((pos = low.find(marker, pos)) != std::string::npos) {
      const size_t i = skip_decoration(text, pos + marker.size());
      if (auto letter = standalone_letter(text, i, num_options); letter && (!best || pos >= best_pos)) {
        best = letter;
        best_pos = pos;
      }
      pos += marker.size();
    }
  }
  return best;
}

std::optional<char> from_bold(std::string_view text, int num_options) {
  std::optional<char> last;
  size_t pos = 0;
  while ((pos = text.find("**", pos)) != std::string::npos) {
    size_t i = pos + 2;
    if (i < text.size() && text[i] == '(') ++i;
    if (auto letter = standalone_letter(text, i, num_options)) {
      size_t j = i + 1;
      if (j < text.size() && (text[j] == ')' || text[j] == '.')) ++j;
      if (text.substr(j, 2) == "**") {
        last = letter;
        pos = j + 2;
        continue;
      }
    }
    pos += 2;
  }
  return last;
}

std::optional<char> from_lines(std::string_view text, int num_options) {
  std::optional<char> last;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (!line.empty() && line.front() == '(' && line.size() == 3 && line.back() == ')') line = line.substr(1, 1);
    if (line.size() == 2 && (line.back() == '.' || line.back() == ')')) line.remove_suffix(1);
    if (line.size() == 1 && valid_letter(line[0], num_options)) last = line[0];
    start = end + 1;
  }
  return last;
}

}  // namespace

std::optional<char> extract_choice_letter(std::string_view text, int num_options) {
  if (num_options < 1 || num_options > 26) return std::nullopt;
  const auto boxes = apps::find_boxed(text);
  for (auto it = boxes.rbegin(); it != boxes.rend(); ++it) {
    if (auto letter = letter_of_box(it->content, num_options)) return letter;
  }
  if (auto letter = from_statements(text, num_options)) return letter;
  if (auto letter = from_bold(text, num_options)) return letter;
  return from_lines(text, num_options);
}

}  // namespace fp4::eval
