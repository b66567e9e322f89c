#include "fp4/apps/code_assistant.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <regex>
#include <utility>

#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

const std::vector<std::string> kDefaultFocus = {"correctness", "security", "performance", "style"};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A fence longer than any run of backticks inside the code, so the code cannot close it early.
std::string fence_for(std::string_view code) {
  size_t longest = 0;
  size_t run = 0;
  for (char c : code) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string normalize_severity(std::string_view word) {
  const std::string w = lower(word);
  if (w == "critical" || w == "high" || w == "major" || w == "높음" || w == "심각") return "high";
  if (w == "medium" || w == "moderate" || w == "중간" || w == "보통") return "medium";
  if (w == "low" || w == "minor" || w == "낮음" || w == "사소") return "low";
  return {};
}

// Strips separators and Markdown emphasis around a fragment ("**: text** " → "text").
std::string clean_fragment(const std::string& s) {
  std::string_view v = s;
  constexpr std::string_view kEnDash = "\u2013";
  for (bool changed = true; changed;) {
    changed = false;
    if (!v.empty() && std::string_view(" \t:-*_").find(v.front()) != std::string_view::npos) {
      v.remove_prefix(1);
      changed = true;
    } else if (v.substr(0, kEnDash.size()) == kEnDash) {
      v.remove_prefix(kEnDash.size());
      changed = true;
    }
  }
  while (!v.empty() && std::string_view(" \t*_").find(v.back()) != std::string_view::npos) v.remove_suffix(1);
  return std::string(v);
}

std::optional<int64_t> json_line(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    const size_t digit = s.find_first_of("0123456789");
    if (digit != std::string::npos) return std::stoll(s.substr(digit, 9));
  }
  return std::nullopt;
}

std::string json_text(const nlohmann::json& object, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    auto it = object.find(key);
    if (it != object.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

// The review as a JSON object {"summary", "issues": [...]}, in a ```json block or as the whole answer.
bool parse_review_json(std::string_view text, CodeReview& review) {
  std::vector<std::string> candidates;
  for (const CodeBlock& block : extract_code_blocks(text)) {
    if (block.language == "json") candidates.push_back(block.code);
  }
  candidates.emplace_back(trim_ascii(text));
  for (const std::string& candidate : candidates) {
    const nlohmann::json doc = nlohmann::json::parse(candidate, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("issues") || !doc["issues"].is_array()) continue;
    review.summary = json_text(doc, {"summary"});
    review.issues.clear();
    for (const nlohmann::json& item : doc["issues"]) {
      if (!item.is_object()) continue;
      ReviewIssue issue;
      issue.severity = normalize_severity(json_text(item, {"severity", "level"}));
      const std::string category = json_text(item, {"category", "focus", "type"});
      issue.category = canonical_focus(category).value_or("");
      if (auto it = item.find("line"); it != item.end()) issue.line = json_line(*it);
      issue.description = json_text(item, {"description", "issue", "message", "problem"});
      issue.suggestion = json_text(item, {"suggestion", "fix", "recommendation"});
      review.issues.push_back(std::move(issue));
    }
    review.issues_parsed = true;
    return true;
  }
  return false;
}

// Replaces text[match] by a space.
void cut(std::string& text, const RegexMatch& m) { text.replace(m.position, m.length, " "); }

// The first "Suggestion:" / "Fix:" / "Recommendation:" / "제안:" / "수정:" label in `item`: {start, end}.
std::optional<std::pair<size_t, size_t>> find_suggestion_label(const std::string& item) {
  const std::string lowered = lower(item);
  std::optional<std::pair<size_t, size_t>> best;
  for (std::string_view word : {"suggestion", "recommendation", "fix", "제안", "수정"}) {
    const bool ascii = static_cast<unsigned char>(word[0]) < 0x80;
    for (size_t at = lowered.find(word); at != std::string::npos; at = lowered.find(word, at + 1)) {
      if (best && at >= best->first) break;
      // An English word must start a word ("prefix:" is not "fix:").
      if (ascii && at > 0 && std::isalnum(static_cast<unsigned char>(lowered[at - 1]))) continue;
      size_t k = at + word.size();
      while (k < lowered.size() && (lowered[k] == ' ' || lowered[k] == '\t')) ++k;
      if (lowered.compare(k, 1, ":") == 0) {
        best = {{at, k + 1}};
      } else if (lowered.compare(k, 3, "\uFF1A") == 0) {  // full-width colon
        best = {{at, k + 3}};
      } else {
        continue;
      }
      break;
    }
  }
  return best;
}

// One issue line of a review. Severity, category and line number lead the item, so they are looked for in
// its first kRegexWindow bytes; the suggestion label may come anywhere.
ReviewIssue parse_issue(std::string item) {
  ReviewIssue issue;
  static const std::regex kSeverity(
      R"([\[(]\s*(critical|high|major|medium|moderate|low|minor|높음|중간|보통|낮음|심각|사소)\s*[\])]|^\s*\**\s*(critical|high|major|medium|moderate|low|minor)\s*\**\s*(?::|-|–))",
      std::regex::icase);
  if (auto m = search_window(item, kSeverity)) {
    issue.severity = normalize_severity(m->has(1) ? m->group(1) : m->group(2));
    cut(item, *m);
  }
  static const std::regex kCategory(R"(\(\s*([A-Za-z][A-Za-z _\-]*)\s*\))");
  size_t from = 0;
  while (from < std::min(item.size(), kRegexWindow)) {
    auto m = search_window(std::string_view(item).substr(from), kCategory);
    if (!m) break;
    if (auto focus = canonical_focus(m->group(1))) {
      issue.category = *focus;
      m->position += from;
      cut(item, *m);
      break;
    }
    from += m->position + m->length;
  }
  static const std::regex kLine(R"(\b(?:lines?|L)\s*(\d+)(?:\s*(?:-|–)\s*\d+)?\s*:?|줄\s*(\d+)\s*:?)", std::regex::icase);
  if (auto m = search_window(item, kLine)) {
    issue.line = std::stoll((m->has(1) ? m->group(1) : m->group(2)).substr(0, 9));
    // The location is a field of its own when it leads the item ("line 4: ..."); in a sentence it stays.
    if (clean_fragment(item.substr(0, m->position)).empty()) cut(item, *m);
  }
  if (auto label = find_suggestion_label(item)) {
    issue.suggestion = clean_fragment(item.substr(label->second));
    item.resize(label->first);
  }
  issue.description = clean_fragment(item);
  return issue;
}

// "none", "No issues.", "없음" as the whole of a (short) item.
bool says_none(std::string_view text) {
  static const std::regex kNone(R"(\W*(?:none|no issues|nothing|없음|없습니다)\W*)", std::regex::icase);
  text = trim_ascii(text);
  if (text.size() > 40) return false;
  auto m = match_at_start(text, kNone);
  return m && m->length == text.size();
}

// A line that is a label: `pattern` matches its start, and either the pattern's group `colon` took part
// or nothing but whitespace follows. Returns the text after the label.
std::optional<std::string> label_rest(const std::string& line, const std::regex& pattern, size_t colon) {
  auto m = match_at_start(line, pattern);
  if (!m) return std::nullopt;
  std::string rest = line.substr(std::min(m->length, line.size()));
  if (!m->has(colon) && !trim_ascii(rest).empty()) return std::nullopt;
  return rest;
}

}  // namespace

const std::vector<std::string_view>& review_focus_names() {
  static const std::vector<std::string_view> kNames = {"correctness", "security",       "performance",
                                                       "style",       "readability",    "maintainability",
                                                       "error_handling", "concurrency", "testing"};
  return kNames;
}

std::optional<std::string> canonical_focus(std::string_view name) {
  std::string n = lower(trim_ascii(name));
  std::replace(n.begin(), n.end(), '-', '_');
  std::replace(n.begin(), n.end(), ' ', '_');
  if (n == "errors" || n == "error") n = "error_handling";
  if (n == "tests") n = "testing";
  if (n == "bugs" || n == "bug") n = "correctness";
  for (std::string_view known : review_focus_names()) {
    if (n == known) return n;
  }
  return std::nullopt;
}

std::string code_generation_prompt(std::string_view task, std::string_view language, PromptLanguage prompt_language) {
  const std::string tag = canonical_language(language);
  const std::string name = language_display_name(language);
  const std::string t(trim_ascii(task));
  if (prompt_language == PromptLanguage::kKorean) {
    return "다음 작업을 수행하는 " + name + " 코드를 작성해 주세요.\n\n작업: " + t + "\n\n완성된 코드를 ```" + tag +
           " 코드 블록 하나에 담고, 이어서 짧게 설명해 주세요.";
  }
  return "Write " + name + " code for the following task.\n\nTask: " + t + "\n\nGive the complete code in one ```" +
         tag + " code block, then explain it briefly.";
}

std::string code_review_prompt(std::string_view code, const CodeReviewOptions& options, PromptLanguage prompt_language) {
  const std::vector<std::string>& focus = options.focus.empty() ? kDefaultFocus : options.focus;
  const std::string fence = fence_for(code);
  const std::string block = fence + canonical_language(options.language) + "\n" +
                            std::string(code.substr(0, code.find_last_not_of("\n") + 1)) + "\n" + fence;
  const std::string name = options.language.empty() ? std::string() : language_display_name(options.language) + " ";
  if (prompt_language == PromptLanguage::kKorean) {
    return "다음 " + name + "코드를 검토해 주세요. 중점 항목: " + join(focus, ", ") + ".\n\n" + block +
           "\n\n정확히 다음 형식으로 답해 주세요:\n요약: <코드에 대한 한두 문장>\n문제점:\n"
           "1. [high|medium|low] (중점 항목) line N: 무엇이 잘못되었는지. Suggestion: 고치는 방법.\n"
           "고칠 것이 없으면 \"문제점: 없음\"이라고 쓰세요.";
  }
  return "Review the following " + name + "code. Focus on: " + join(focus, ", ") + ".\n\n" + block +
         "\n\nAnswer in exactly this format:\nSummary: <one or two sentences about the code>\nIssues:\n"
         "1. [high|medium|low] (focus area) line N: what is wrong. Suggestion: how to fix it.\n"
         "Write \"Issues: none\" when there is nothing to fix.";
}

void parse_review(std::string_view text, CodeReview& review) {
  review.summary.clear();
  review.issues.clear();
  review.issues_parsed = false;
  if (parse_review_json(text, review)) return;

  static const std::regex kSummaryLabel(R"(\s*(?:#{1,6}\s*)?\**\s*(?:summary|요약)\s*\**\s*((?::|：)\s*\**\s*)?)",
                                        std::regex::icase);
  static const std::regex kIssuesLabel(
      R"(\s*(?:#{1,6}\s*)?\**\s*(?:issues|problems|findings|문제점|이슈)\s*\**\s*((?::|：)\s*\**\s*)?)",
      std::regex::icase);
  static const std::regex kItem(R"(\s*(?:\d+[.)]|-|\*|•)\s+)");

  enum class Section { kPreamble, kSummary, kIssues } section = Section::kPreamble;
  std::vector<std::string> summary_lines;
  std::vector<std::string> items;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t newline = std::min(text.find('\n', pos), text.size());
    std::string line(text.substr(pos, newline - pos));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = newline + 1;
    if (auto rest = label_rest(line, kSummaryLabel, 1)) {
      section = Section::kSummary;
      if (!trim_ascii(*rest).empty()) summary_lines.push_back(clean_fragment(*rest));
    } else if (auto issues_rest = label_rest(line, kIssuesLabel, 1)) {
      section = Section::kIssues;
      review.issues_parsed = true;
      if (!trim_ascii(*issues_rest).empty() && !says_none(*issues_rest)) items.push_back(*issues_rest);
    } else if (section == Section::kSummary) {
      if (!trim_ascii(line).empty()) summary_lines.push_back(std::string(trim_ascii(line)));
    } else if (section == Section::kIssues) {
      if (auto m = match_at_start(line, kItem)) {
        std::string item = line.substr(m->length);
        if (!says_none(item)) items.push_back(std::move(item));
      } else if (!trim_ascii(line).empty() && !items.empty()) {
        items.back() += " " + std::string(trim_ascii(line));  // a wrapped item continues
      }
    }
    if (newline == text.size()) break;
  }
  review.summary = join(summary_lines, " ");
  for (std::string& item : items) review.issues.push_back(parse_issue(std::move(item)));
}

CodeGeneration CodeAssistant::generate(std::string_view task, std::string_view language,
                                       const CodeGenerationOptions& options) {
  FP4_CHECK(!trim_ascii(task).empty(), "code: the task is empty");
  FP4_CHECK(!trim_ascii(language).empty(), "code: the language is empty");
  CodeGeneration result;
  result.task = std::string(trim_ascii(task));
  result.language = canonical_language(language);
  const PromptLanguage prompt_language = resolve_language(options.prompt_language, task);
  AppOutput out = ask(generator_, code_generation_prompt(task, language, prompt_language), options.sampling);
  result.blocks = extract_code_blocks(out.content);
  result.code = select_code(result.blocks, result.language);
  result.text = std::move(out.content);
  take_generation_fields(out, result);
  return result;
}

CodeReview CodeAssistant::review(std::string_view code, const CodeReviewOptions& options) {
  FP4_CHECK(!trim_ascii(code).empty(), "code review: the code is empty");
  CodeReviewOptions resolved = options;
  for (std::string& focus : resolved.focus) {
    std::optional<std::string> canonical = canonical_focus(focus);
    FP4_CHECK(canonical.has_value(), "code review: unknown focus area \"{}\" (expected one of {})", focus,
              [] {
                std::string names;
                for (std::string_view n : review_focus_names()) names += (names.empty() ? "" : ", ") + std::string(n);
                return names;
              }());
    focus = *canonical;
  }
  CodeReview result;
  result.focus = resolved.focus.empty() ? kDefaultFocus : resolved.focus;
  const PromptLanguage prompt_language = resolve_language(resolved.prompt_language, code);
  AppOutput out = ask(generator_, code_review_prompt(code, resolved, prompt_language), resolved.sampling);
  parse_review(out.content, result);
  result.text = std::move(out.content);
  take_generation_fields(out, result);
  return result;
}

}  // namespace fp4::apps
