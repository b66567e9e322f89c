#include "fp4/apps/code_blocks.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

namespace fp4::apps {
namespace {

struct Fence {
  size_t indent = 0;  // leading spaces/tabs before the fence characters
  char marker = '`';
  size_t length = 0;           // fence characters, >= 3
  std::string_view info;       // the rest of the line (opening fences only)
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A line that starts with three or more '`' or '~' after optional indentation.
std::optional<Fence> parse_fence(std::string_view line) {
  Fence f;
  while (f.indent < line.size() && (line[f.indent] == ' ' || line[f.indent] == '\t')) ++f.indent;
  if (f.indent == line.size()) return std::nullopt;
  f.marker = line[f.indent];
  if (f.marker != '`' && f.marker != '~') return std::nullopt;
  size_t k = f.indent;
  while (k < line.size() && line[k] == f.marker) ++k;
  f.length = k - f.indent;
  if (f.length < 3) return std::nullopt;
  f.info = trim(line.substr(k));
  return f;
}

std::string language_of(std::string_view info) {
  std::string_view word = info.substr(0, std::min(info.find_first_of(" \t"), info.size()));
  // Pandoc's attribute form: ```{.python} or ```{python}
  if (!word.empty() && word.front() == '{') word.remove_prefix(1);
  if (!word.empty() && word.back() == '}') word.remove_suffix(1);
  if (!word.empty() && word.front() == '.') word.remove_prefix(1);
  return lower(word);
}

// Removes up to `indent` leading whitespace characters (the opening fence's indentation).
std::string_view dedent(std::string_view line, size_t indent) {
  size_t k = 0;
  while (k < indent && k < line.size() && (line[k] == ' ' || line[k] == '\t')) ++k;
  return line.substr(k);
}

}  // namespace

std::vector<CodeBlock> extract_code_blocks(std::string_view markdown) {
  std::vector<CodeBlock> blocks;
  std::optional<Fence> open;
  std::vector<std::string_view> lines;  // of the open block
  auto close_block = [&](bool terminated) {
    CodeBlock block;
    block.language = language_of(open->info);
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) block.code.push_back('\n');
      block.code.append(dedent(lines[i], open->indent));
    }
    block.terminated = terminated;
    blocks.push_back(std::move(block));
    lines.clear();
    open.reset();
  };

  size_t pos = 0;
  while (pos <= markdown.size()) {
    const size_t newline = std::min(markdown.find('\n', pos), markdown.size());
    std::string_view line = markdown.substr(pos, newline - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool last_line = newline == markdown.size();
    const std::optional<Fence> fence = parse_fence(line);
    if (open) {
      if (fence && fence->marker == open->marker && fence->length >= open->length && fence->info.empty()) {
        close_block(true);
      } else if (!(last_line && line.empty())) {  // a final newline does not add an empty line
        lines.push_back(line);
      }
    } else if (fence && !(fence->marker == '`' && fence->info.find('`') != std::string_view::npos)) {
      open = fence;
    }
    if (last_line) break;
    pos = newline + 1;
  }
  if (open) close_block(false);
  return blocks;
}

std::string canonical_language(std::string_view tag) {
  static const std::pair<std::string_view, std::string_view> kAliases[] = {
      {"py", "python"},       {"python3", "python"},  {"py3", "python"},     {"c++", "cpp"},
      {"cxx", "cpp"},         {"cc", "cpp"},          {"hpp", "cpp"},        {"h++", "cpp"},
      {"js", "javascript"},   {"node", "javascript"}, {"jsx", "javascript"}, {"mjs", "javascript"},
      {"ts", "typescript"},   {"tsx", "typescript"},  {"sh", "bash"},        {"shell", "bash"},
      {"zsh", "bash"},        {"rs", "rust"},         {"golang", "go"},      {"kt", "kotlin"},
      {"cs", "csharp"},       {"c#", "csharp"},       {"rb", "ruby"},        {"yml", "yaml"},
      {"h", "c"},             {"hs", "haskell"},      {"jl", "julia"},       {"pl", "perl"},
  };
  std::string t = lower(trim(tag));
  for (const auto& [alias, name] : kAliases) {
    if (t == alias) return std::string(name);
  }
  return t;
}

std::string language_display_name(std::string_view language) {
  static const std::pair<std::string_view, std::string_view> kNames[] = {
      {"python", "Python"}, {"cpp", "C++"},        {"c", "C"},           {"javascript", "JavaScript"},
      {"typescript", "TypeScript"}, {"bash", "Bash"}, {"rust", "Rust"},  {"go", "Go"},
      {"java", "Java"},     {"kotlin", "Kotlin"},  {"csharp", "C#"},     {"ruby", "Ruby"},
      {"sql", "SQL"},       {"haskell", "Haskell"}, {"julia", "Julia"},  {"perl", "Perl"},
      {"swift", "Swift"},   {"php", "PHP"},        {"r", "R"},           {"scala", "Scala"},
  };
  const std::string canonical = canonical_language(language);
  for (const auto& [key, name] : kNames) {
    if (canonical == key) return std::string(name);
  }
  return std::string(trim(language));
}

std::string select_code(const std::vector<CodeBlock>& blocks, std::string_view language) {
  const std::string wanted = canonical_language(language);
  std::vector<const CodeBlock*> chosen;
  for (const CodeBlock& b : blocks) {
    if (!wanted.empty() && canonical_language(b.language) == wanted) chosen.push_back(&b);
  }
  if (chosen.empty()) {
    for (const CodeBlock& b : blocks) {
      if (b.language.empty()) chosen.push_back(&b);
    }
  }
  if (chosen.empty()) {
    for (const CodeBlock& b : blocks) chosen.push_back(&b);
  }
  std::string code;
  for (const CodeBlock* b : chosen) {
    if (!code.empty()) code += "\n\n";
    code += b->code;
  }
  return code;
}

}  // namespace fp4::apps
