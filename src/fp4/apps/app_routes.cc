#include "fp4/apps/app_routes.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "fp4/apps/code_assistant.h"
#include "fp4/apps/math_solver.h"
#include "fp4/apps/tutor.h"
#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

using nlohmann::json;

constexpr std::string_view kMathSolve = "/v1/apps/math/solve";
constexpr std::string_view kCodeGenerate = "/v1/apps/code/generate";
constexpr std::string_view kCodeReview = "/v1/apps/code/review";
constexpr std::string_view kTutorExplain = "/v1/apps/tutor/explain";
constexpr std::string_view kTutorProblems = "/v1/apps/tutor/problems";

// Inputs larger than this are rejected before they reach the tokenizer (the server also caps the body).
constexpr size_t kMaxTextBytes = 256 * 1024;

const std::vector<std::string> kSamplingFields = {
    "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty",
    "seed", "max_tokens", "max_reasoning_tokens",
};

std::string_view json_type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

// Reads the fields of one request body; every error names the path and the field.
class BodyReader {
 public:
  BodyReader(std::string_view path, const json& body, std::vector<std::string> fields)
      : path_(path), body_(body), fields_(std::move(fields)) {
    FP4_CHECK(body_.is_object(), "{}: the body must be a JSON object, got {}", path_, json_type_name(body_));
    fields_.push_back("model");
    fields_.insert(fields_.end(), kSamplingFields.begin(), kSamplingFields.end());
    for (const auto& [key, value] : body_.items()) {
      if (std::find(fields_.begin(), fields_.end(), key) == fields_.end()) {
        std::string accepted;
        for (const std::string& f : fields_) accepted += (accepted.empty() ? "" : ", ") + f;
        fail("{}: unknown field \"{}\" (accepted: {})", path_, key, accepted);
      }
    }
    if (has("model")) FP4_CHECK(body_["model"].is_string(), "{}: \"model\" must be a string", path_);
  }

  bool has(const char* field) const { return body_.contains(field) && !body_[field].is_null(); }

  std::string required_text(const char* field) const {
    FP4_CHECK(has(field), "{}: \"{}\" is required", path_, field);
    std::string text = string(field);
    FP4_CHECK(!trim_ascii(text).empty(), "{}: \"{}\" is empty", path_, field);
    return text;
  }

  std::string string(const char* field, std::string fallback = {}) const {
    if (!has(field)) return fallback;
    const json& v = body_[field];
    FP4_CHECK(v.is_string(), "{}: \"{}\" must be a string, got {}", path_, field, json_type_name(v));
    std::string text = v.get<std::string>();
    FP4_CHECK(text.size() <= kMaxTextBytes, "{}: \"{}\" is {} bytes, the limit is {}", path_, field, text.size(),
              kMaxTextBytes);
    return text;
  }

  std::optional<int64_t> integer(const char* field) const {
    if (!has(field)) return std::nullopt;
    const json& v = body_[field];
    if (v.is_number_integer()) return v.get<int64_t>();
    // 3.0 is an integer in JSON's number model (some clients send every number as a double).
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
    }
    fail("{}: \"{}\" must be an integer, got {}", path_, field, v.dump());
  }

  std::optional<double> number(const char* field) const {
    if (!has(field)) return std::nullopt;
    const json& v = body_[field];
    FP4_CHECK(v.is_number(), "{}: \"{}\" must be a number, got {}", path_, field, json_type_name(v));
    return v.get<double>();
  }

  std::vector<std::string> string_list(const char* field) const {
    std::vector<std::string> out;
    if (!has(field)) return out;
    const json& v = body_[field];
    if (v.is_string()) {  // "security, performance"
      std::string item;
      for (char c : v.get<std::string>() + ",") {
        if (c == ',') {
          if (!trim_ascii(item).empty()) out.emplace_back(trim_ascii(item));
          item.clear();
        } else {
          item.push_back(c);
        }
      }
      return out;
    }
    FP4_CHECK(v.is_array(), "{}: \"{}\" must be an array of strings, got {}", path_, field, json_type_name(v));
    for (size_t i = 0; i < v.size(); ++i) {
      FP4_CHECK(v[i].is_string(), "{}: \"{}[{}]\" must be a string, got {}", path_, field, i, json_type_name(v[i]));
      out.push_back(v[i].get<std::string>());
    }
    return out;
  }

  // Sampling fields by their OpenAI / vLLM names; ranges are checked when the generator resolves them.
  runtime::sampling::SamplingRequest sampling() const {
    runtime::sampling::SamplingRequest s;
    s.temperature = number("temperature");
    s.top_p = number("top_p");
    s.top_k = integer("top_k");
    s.min_p = number("min_p");
    s.repetition_penalty = number("repetition_penalty");
    s.presence_penalty = number("presence_penalty");
    s.frequency_penalty = number("frequency_penalty");
    s.seed = integer("seed");
    s.max_tokens = integer("max_tokens");
    s.max_reasoning_tokens = integer("max_reasoning_tokens");
    if (s.max_tokens) FP4_CHECK(*s.max_tokens >= 1, "{}: \"max_tokens\" is {}, expected at least 1", path_, *s.max_tokens);
    return s;
  }

  // Runs `parse` on a field's text, prefixing its error with the path.
  template <typename F>
  auto parsed(const char* field, std::string fallback, F parse) const {
    const std::string text = string(field, std::move(fallback));
    try {
      return parse(text, field);
    } catch (const Error& e) {
      fail("{}: {}", path_, e.what());
    }
  }

 private:
  std::string_view path_;
  const json& body_;
  std::vector<std::string> fields_;
};

json usage(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json math_solve(const json& body, TextGenerator& generator) {
  const BodyReader in(kMathSolve, body, {"problem", "language"});
  MathSolveOptions options;
  const std::string problem = in.required_text("problem");
  options.language = in.parsed("language", "auto", parse_language_choice);
  options.sampling = in.sampling();
  const MathSolution s = MathSolver(generator).solve(problem, options);
  return {{"object", "app.math.solution"},
          {"model", generator.model_name()},
          {"problem", s.problem},
          {"language", language_code(s.language)},
          {"full_solution", s.full_solution},
          {"reasoning", s.reasoning},
          {"final_answer", s.final_answer},
          {"has_boxed_answer", s.has_boxed_answer},
          {"answer_from_reasoning", s.answer_from_reasoning},
          {"finish_reason", s.finish_reason},
          {"usage", usage(s.prompt_tokens, s.completion_tokens)}};
}

json code_generate(const json& body, TextGenerator& generator) {
  const BodyReader in(kCodeGenerate, body, {"task", "language", "prompt_language"});
  const std::string task = in.required_text("task");
  const std::string language = in.string("language", "python");
  FP4_CHECK(!trim_ascii(language).empty(), "{}: \"language\" is empty", kCodeGenerate);
  CodeGenerationOptions options;
  options.prompt_language = in.parsed("prompt_language", "auto", parse_language_choice);
  options.sampling = in.sampling();
  const CodeGeneration g = CodeAssistant(generator).generate(task, language, options);
  json blocks = json::array();
  for (const CodeBlock& b : g.blocks) {
    blocks.push_back({{"language", b.language}, {"code", b.code}, {"terminated", b.terminated}});
  }
  return {{"object", "app.code.generation"},
          {"model", generator.model_name()},
          {"task", g.task},
          {"language", g.language},
          {"code", g.code},
          {"blocks", std::move(blocks)},
          {"text", g.text},
          {"reasoning", g.reasoning},
          {"finish_reason", g.finish_reason},
          {"usage", usage(g.prompt_tokens, g.completion_tokens)}};
}

json code_review(const json& body, TextGenerator& generator) {
  const BodyReader in(kCodeReview, body, {"code", "language", "focus", "prompt_language"});
  const std::string code = in.required_text("code");
  CodeReviewOptions options;
  options.language = in.string("language");
  const std::vector<std::string> focus = in.string_list("focus");
  for (size_t i = 0; i < focus.size(); ++i) {
    std::optional<std::string> canonical = canonical_focus(focus[i]);
    if (!canonical) {
      std::string names;
      for (std::string_view n : review_focus_names()) names += (names.empty() ? "" : ", ") + std::string(n);
      fail("{}: \"focus[{}]\" is \"{}\", expected one of {}", kCodeReview, i, focus[i], names);
    }
    if (std::find(options.focus.begin(), options.focus.end(), *canonical) == options.focus.end()) {
      options.focus.push_back(*canonical);
    }
  }
  options.prompt_language = in.parsed("prompt_language", "auto", parse_language_choice);
  options.sampling = in.sampling();
  const CodeReview r = CodeAssistant(generator).review(code, options);
  json issues = json::array();
  for (const ReviewIssue& issue : r.issues) {
    issues.push_back({{"severity", issue.severity.empty() ? json() : json(issue.severity)},
                      {"category", issue.category.empty() ? json() : json(issue.category)},
                      {"line", issue.line ? json(*issue.line) : json()},
                      {"description", issue.description},
                      {"suggestion", issue.suggestion}});
  }
  return {{"object", "app.code.review"},
          {"model", generator.model_name()},
          {"language", options.language.empty() ? json() : json(canonical_language(options.language))},
          {"focus", r.focus},
          {"summary", r.summary},
          {"issues", std::move(issues)},
          {"issues_parsed", r.issues_parsed},
          {"text", r.text},
          {"reasoning", r.reasoning},
          {"finish_reason", r.finish_reason},
          {"usage", usage(r.prompt_tokens, r.completion_tokens)}};
}

TutorOptions tutor_options(const BodyReader& in) {
  TutorOptions options;
  options.level = in.parsed("level", "intermediate", parse_tutor_level);
  options.language = in.parsed("language", "auto", parse_language_choice);
  options.sampling = in.sampling();
  return options;
}

json tutor_explain(const json& body, TextGenerator& generator) {
  const BodyReader in(kTutorExplain, body, {"concept", "level", "language"});
  const std::string concept_name = in.required_text("concept");
  const TutorOptions options = tutor_options(in);
  const TutorExplanation e = Tutor(generator).explain(concept_name, options);
  return {{"object", "app.tutor.explanation"},
          {"model", generator.model_name()},
          {"concept", e.concept_name},
          {"level", tutor_level_name(e.level)},
          {"language", language_code(e.language)},
          {"explanation", e.explanation},
          {"reasoning", e.reasoning},
          {"finish_reason", e.finish_reason},
          {"usage", usage(e.prompt_tokens, e.completion_tokens)}};
}

json tutor_problems(const json& body, TextGenerator& generator) {
  const BodyReader in(kTutorProblems, body, {"topic", "count", "level", "language"});
  const std::string topic = in.required_text("topic");
  const int64_t count = in.integer("count").value_or(3);
  FP4_CHECK(count >= 1 && count <= kMaxPracticeProblems, "{}: \"count\" is {}, expected an integer in [1, {}]",
            kTutorProblems, count, kMaxPracticeProblems);
  const TutorOptions options = tutor_options(in);
  const PracticeSet set = Tutor(generator).practice_problems(topic, static_cast<int>(count), options);
  json problems = json::array();
  for (const PracticeProblem& p : set.problems) {
    problems.push_back({{"problem", p.problem}, {"solution", p.solution}, {"answer", p.answer}});
  }
  return {{"object", "app.tutor.problems"},
          {"model", generator.model_name()},
          {"topic", set.topic},
          {"level", tutor_level_name(set.level)},
          {"language", language_code(set.language)},
          {"requested", set.requested},
          {"problems", std::move(problems)},
          {"text", set.text},
          {"reasoning", set.reasoning},
          {"finish_reason", set.finish_reason},
          {"usage", usage(set.prompt_tokens, set.completion_tokens)}};
}

}  // namespace

const std::vector<std::string_view>& app_request_paths() {
  static const std::vector<std::string_view> kPaths = {kMathSolve, kCodeGenerate, kCodeReview, kTutorExplain,
                                                       kTutorProblems};
  return kPaths;
}

std::optional<json> handle_app_request(std::string_view path, const json& body, TextGenerator& generator) {
  if (path == kMathSolve) return math_solve(body, generator);
  if (path == kCodeGenerate) return code_generate(body, generator);
  if (path == kCodeReview) return code_review(body, generator);
  if (path == kTutorExplain) return tutor_explain(body, generator);
  if (path == kTutorProblems) return tutor_problems(body, generator);
  return std::nullopt;
}

}  // namespace fp4::apps
