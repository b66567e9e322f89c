#include "fp4/eval/suite.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>

#include "fp4/base/error.h"

namespace fp4::eval {
namespace {

using json = nlohmann::json;

struct Record {
  const std::string& path;
  int line;
  const json& j;

  bool has(std::string_view key) const { return j.contains(key) && !j.at(std::string(key)).is_null(); }

  // The first of `keys` present; throws naming the first when none is.
  const json& field(std::initializer_list<std::string_view> keys) const {
    for (auto k : keys) {
      if (has(k)) return j.at(std::string(k));
    }
    fail("{}:{}: field '{}' is missing", path, line, *keys.begin());
  }

  // allow_integer: an integer is accepted and written in decimal (AIME answers are numbers in some sets).
  std::string string(std::initializer_list<std::string_view> keys, bool allow_integer = false) const {
    const json& v = field(keys);
    if (v.is_string()) return v.get<std::string>();
    if (allow_integer && v.is_number_integer()) return std::to_string(v.get<int64_t>());
    fail("{}:{}: field '{}' must be a string, got {}", path, line, *keys.begin(), v.type_name());
  }

  std::string optional_string(std::initializer_list<std::string_view> keys) const {
    for (auto k : keys) {
      if (has(k)) {
        const json& v = j.at(std::string(k));
        if (v.is_string()) return v.get<std::string>();
        if (v.is_number()) return v.dump();
      }
    }
    return "";
  }
};

std::string trim_copy(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

SuiteType detect(const json& j) {
  const auto has = [&j](const char* k) { return j.contains(k); };
  if (has("task_id") && has("prompt") && has("test") && has("entry_point")) return SuiteType::kHumanEval;
  if (has("Question") && has("Correct Answer")) return SuiteType::kGpqa;
  if (has("question") && has("options")) return SuiteType::kMmluPro;
  if (has("Problem") && has("Answer")) return SuiteType::kAime;
  if (has("problem") && has("answer")) {
    if (j["answer"].is_number_integer()) return SuiteType::kAime;
    if (has("unique_id") || has("subject") || has("level")) return SuiteType::kMath500;
    if (has("url") || has("year") || has("problem_idx")) return SuiteType::kAime;
    return SuiteType::kMath500;
  }
  fail("cannot tell the suite type from the fields ({}); expected MATH-500 (problem, answer), AIME (problem, "
       "answer), MMLU-Pro (question, options, answer), GPQA (Question, Correct Answer, Incorrect Answer 1..3) "
       "or HumanEval (task_id, prompt, test, entry_point); or give --suite-type",
       [&j] {
         std::string keys;
         for (auto it = j.begin(); it != j.end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
         return keys;
       }());
}

Problem math_problem(const Record& r, SuiteType type) {
  Problem p;
  p.question = r.string({"problem", "Problem"});
  p.answer = trim_copy(r.string({"answer", "Answer"}, /*allow_integer=*/true));
  FP4_CHECK(!p.answer.empty(), "{}:{}: field 'answer' is empty", r.path, r.line);
  if (type == SuiteType::kAime) {
    FP4_CHECK(std::all_of(p.answer.begin(), p.answer.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }),
              "{}:{}: field 'answer': an AIME answer is an integer 0-999, got '{}'", r.path, r.line, p.answer);
  }
  p.id = r.optional_string({"unique_id", "id", "ID", "problem_idx"});
  p.category = r.optional_string({"subject", "year"});
  return p;
}

Problem mmlu_pro_problem(const Record& r) {
  Problem p;
  p.question = r.string({"question"});
  const json& opts = r.field({"options"});
  FP4_CHECK(opts.is_array() && opts.size() >= 2 && opts.size() <= 10,
            "{}:{}: field 'options' must be an array of 2 to 10 strings", r.path, r.line);
  for (const auto& o : opts) {
    FP4_CHECK(o.is_string() || o.is_number(), "{}:{}: field 'options': every option must be a string", r.path, r.line);
    p.options.push_back(o.is_string() ? o.get<std::string>() : o.dump());
  }
  const std::string letter = trim_copy(r.string({"answer"}));
  const int n = static_cast<int>(p.options.size());
  FP4_CHECK(letter.size() == 1 && letter[0] >= 'A' && letter[0] < 'A' + n,
            "{}:{}: field 'answer': expected one letter A-{} for {} options, got '{}'", r.path, r.line,
            static_cast<char>('A' + n - 1), n, letter);
  if (r.has("answer_index")) {
    const json& idx = r.j.at("answer_index");
    FP4_CHECK(idx.is_number_integer() && idx.get<int64_t>() == letter[0] - 'A',
              "{}:{}: field 'answer_index' ({}) does not match answer '{}'", r.path, r.line, idx.dump(), letter);
  }
  p.answer = letter;
  p.id = r.optional_string({"question_id", "id"});
  p.category = r.optional_string({"category", "src"});
  return p;
}

Problem gpqa_problem(const Record& r) {
  Problem p;
  p.question = trim_copy(r.string({"Question"}));
  std::vector<std::string> choices = {trim_copy(r.string({"Correct Answer"})),
                                      trim_copy(r.string({"Incorrect Answer 1"})),
                                      trim_copy(r.string({"Incorrect Answer 2"})),
                                      trim_copy(r.string({"Incorrect Answer 3"}))};
  const std::vector<int> order = gpqa_option_order(p.question);
  for (size_t slot = 0; slot < order.size(); ++slot) {
    p.options.push_back(choices[order[slot]]);
    if (order[slot] == 0) p.answer = std::string(1, static_cast<char>('A' + slot));
  }
  p.id = r.optional_string({"Record ID", "id"});
  p.category = r.optional_string({"Subdomain", "High-level domain"});
  return p;
}

Problem humaneval_problem(const Record& r) {
  Problem p;
  p.id = r.string({"task_id"});
  p.question = r.string({"prompt"});
  p.test = r.string({"test"});
  p.entry_point = trim_copy(r.string({"entry_point"}));
  FP4_CHECK(!p.entry_point.empty(), "{}:{}: field 'entry_point' is empty", r.path, r.line);
  p.canonical_solution = r.optional_string({"canonical_solution"});
  return p;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::string_view suite_type_name(SuiteType type) {
  switch (type) {
    case SuiteType::kMath500: return "math500";
    case SuiteType::kAime: return "aime";
    case SuiteType::kMmluPro: return "mmlu_pro";
    case SuiteType::kGpqa: return "gpqa";
    case SuiteType::kHumanEval: return "humaneval";
  }
  return "?";
}

SuiteType parse_suite_type(std::string_view name) {
  if (name == "math500" || name == "math-500" || name == "math") return SuiteType::kMath500;
  if (name == "aime") return SuiteType::kAime;
  if (name == "mmlu_pro" || name == "mmlu-pro") return SuiteType::kMmluPro;
  if (name == "gpqa") return SuiteType::kGpqa;
  if (name == "humaneval" || name == "human_eval" || name == "human-eval") return SuiteType::kHumanEval;
  fail("unknown suite type '{}' (expected math500, aime, mmlu_pro, gpqa or humaneval)", name);
}

bool is_multiple_choice(SuiteType type) { return type == SuiteType::kMmluPro || type == SuiteType::kGpqa; }
bool is_math(SuiteType type) { return type == SuiteType::kMath500 || type == SuiteType::kAime; }

std::vector<int> gpqa_option_order(std::string_view question) {
  std::vector<int> order = {0, 1, 2, 3};
  uint64_t state = fnv1a(question);
  for (int i = 3; i > 0; --i) {  // Fisher-Yates
    const int j = static_cast<int>(splitmix64(state) % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

Suite load_suite(const std::string& path, std::optional<SuiteType> type) {
  std::ifstream in(path);
  FP4_CHECK(in.good(), "{}: cannot open the suite file", path);
  Suite suite;
  suite.path = path;
  suite.name = std::filesystem::path(path).stem().string();
  std::set<std::string> ids;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim_copy(line).empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      fail("{}:{}: not valid JSON ({})", path, line_no, e.what());
    }
    FP4_CHECK(j.is_object(), "{}:{}: expected a JSON object per line", path, line_no);
    if (!type) {
      try {
        type = detect(j);
      } catch (const Error& e) {
        fail("{}:{}: {}", path, line_no, e.what());
      }
    }
    const Record r{path, line_no, j};
    Problem p;
    switch (*type) {
      case SuiteType::kMath500:
      case SuiteType::kAime: p = math_problem(r, *type); break;
      case SuiteType::kMmluPro: p = mmlu_pro_problem(r); break;
      case SuiteType::kGpqa: p = gpqa_problem(r); break;
      case SuiteType::kHumanEval: p = humaneval_problem(r); break;
    }
    if (p.id.empty()) p.id = "line " + std::to_string(line_no);
    FP4_CHECK(ids.insert(p.id).second, "{}:{}: duplicate problem id '{}'", path, line_no, p.id);
    suite.problems.push_back(std::move(p));
  }
  FP4_CHECK(!suite.problems.empty(), "{}: the suite has no problems", path);
  suite.type = *type;
  return suite;
}

}  // namespace fp4::eval
