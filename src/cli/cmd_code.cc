// `fp4serve code generate "TASK" --language python -m DIR` prints the code the model writes for a task;
// `fp4serve code review FILE --focus security,performance -m DIR` reviews a file (- for stdin).
// Both also run against a server with --url.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/app_options.h"
#include "fp4/apps/code_blocks.h"
#include "fp4/base/error.h"

namespace fp4::cli {
namespace {

struct CodeArgs {
  std::string task;
  std::string file;
  std::string language;
  std::vector<std::string> focus;
  std::string output;
  apps::AppCliOptions app;
  CLI::App* generate = nullptr;
  CLI::App* review = nullptr;
};

std::string read_source(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream in(path, std::ios::binary);
  FP4_CHECK(in.good(), "code review: cannot open {}", path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The language of a file from its extension, for a review without --language.
std::string language_from_path(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (path == "-" || dot == std::string::npos || path.find('/', dot) != std::string::npos) return {};
  return apps::canonical_language(path.substr(dot + 1));
}

int run_generate(CodeArgs& a) {
  const std::string language = a.language.empty() ? "python" : a.language;
  const nlohmann::json out = a.app.run(
      "/v1/apps/code/generate", {{"task", a.task}, {"language", language}, {"prompt_language", a.app.language}});
  const std::string code = out["code"].get<std::string>();
  if (!a.output.empty()) {
    FP4_CHECK(!code.empty(), "code generate: the answer has no code block; nothing written to {}", a.output);
    std::ofstream file(a.output, std::ios::binary);
    file << code << '\n';
    FP4_CHECK(file.good(), "code generate: cannot write {}", a.output);
    std::fprintf(stderr, "wrote %zu bytes of %s to %s\n", code.size() + 1, out["language"].get<std::string>().c_str(),
                 a.output.c_str());
  }
  if (a.app.json) return 0;
  a.app.print_reasoning(out);
  if (code.empty()) {
    std::fprintf(stderr, "no fenced code block in the answer; printing it whole\n");
    std::printf("%s\n", out["text"].get<std::string>().c_str());
  } else if (a.output.empty()) {
    std::printf("%s\n", code.c_str());
  }
  for (const auto& block : out["blocks"]) {
    if (!block["terminated"].get<bool>()) std::fprintf(stderr, "warning: the last code block was cut off\n");
  }
  return 0;
}

int run_review(CodeArgs& a) {
  const std::string code = read_source(a.file);
  const std::string language = a.language.empty() ? language_from_path(a.file) : a.language;
  nlohmann::json body = {{"code", code}, {"prompt_language", a.app.language}, {"focus", a.focus}};
  if (!language.empty()) body["language"] = language;
  const nlohmann::json out = a.app.run("/v1/apps/code/review", body);
  if (a.app.json) return 0;
  a.app.print_reasoning(out);
  if (!out["issues_parsed"].get<bool>()) {
    apps::AppCliOptions::note_empty_answer(out, "text");
    std::printf("%s\n", out["text"].get<std::string>().c_str());
    return 0;
  }
  std::printf("Summary: %s\n", out["summary"].get<std::string>().c_str());
  if (out["issues"].empty()) std::printf("Issues: none\n");
  int number = 0;
  for (const auto& issue : out["issues"]) {
    std::string where;
    if (!issue["severity"].is_null()) where += "[" + issue["severity"].get<std::string>() + "] ";
    if (!issue["category"].is_null()) where += "(" + issue["category"].get<std::string>() + ") ";
    if (!issue["line"].is_null()) where += "line " + std::to_string(issue["line"].get<int64_t>()) + ": ";
    std::printf("%d. %s%s\n", ++number, where.c_str(), issue["description"].get<std::string>().c_str());
    if (!issue["suggestion"].get<std::string>().empty()) {
      std::printf("   Suggestion: %s\n", issue["suggestion"].get<std::string>().c_str());
    }
  }
  return 0;
}

const Command kCode{
    "code", "Coding assistant: generate code for a task, or review code with focus areas",
    [](CLI::App& sub) -> Runner {
      auto a = std::make_shared<CodeArgs>();
      sub.require_subcommand(1);
      a->generate = sub.add_subcommand("generate", "Write code for a task; prints the code");
      a->generate->add_option("task", a->task, "What the code should do")->required();
      a->generate->add_option("-l,--language", a->language, "Programming language (default python)");
      a->generate->add_option("-o,--output", a->output, "Also write the code to this file");
      a->app.add_to(*a->generate, "--prompt-language");
      a->review = sub.add_subcommand("review", "Review code; prints a summary and the issues found");
      a->review->add_option("file", a->file, "Source file to review (- reads stdin)")->required();
      a->review->add_option("-l,--language", a->language, "Programming language (default: from the file extension)");
      a->review->add_option("--focus", a->focus,
                            "Focus areas: correctness, security, performance, style, readability, maintainability, "
                            "error_handling, concurrency, testing")
          ->delimiter(',');
      a->app.add_to(*a->review, "--prompt-language");
      return [a] { return a->generate->parsed() ? run_generate(*a) : run_review(*a); };
    }};

}  // namespace
}  // namespace fp4::cli
