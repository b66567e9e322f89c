// `fp4serve tutor explain "derivative" --level beginner -m DIR` explains a concept;
// `fp4serve tutor problems "fractions" --count 3 -m DIR` writes practice problems with solutions and answers.
// Both also run against a server with --url.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/app_options.h"

namespace fp4::cli {
namespace {

struct TutorArgs {
  std::string subject;
  std::string level = "intermediate";
  int count = 3;
  apps::AppCliOptions app;
  CLI::App* explain = nullptr;
  CLI::App* problems = nullptr;
};

int run_explain(const TutorArgs& a) {
  const nlohmann::json out = a.app.run("/v1/apps/tutor/explain",
                                       {{"concept", a.subject}, {"level", a.level}, {"language", a.app.language}});
  if (a.app.json) return 0;
  a.app.print_reasoning(out);
  apps::AppCliOptions::note_empty_answer(out, "explanation");
  std::printf("%s\n", out["explanation"].get<std::string>().c_str());
  return 0;
}

int run_problems(const TutorArgs& a) {
  const nlohmann::json out = a.app.run(
      "/v1/apps/tutor/problems",
      {{"topic", a.subject}, {"count", a.count}, {"level", a.level}, {"language", a.app.language}});
  if (a.app.json) return 0;
  a.app.print_reasoning(out);
  const auto& problems = out["problems"];
  if (problems.empty()) {
    std::fprintf(stderr, "no problem could be parsed from the answer; printing it whole\n");
    std::printf("%s\n", out["text"].get<std::string>().c_str());
    return 0;
  }
  int number = 0;
  for (const auto& p : problems) {
    std::printf("Problem %d: %s\n", ++number, p["problem"].get<std::string>().c_str());
    if (!p["solution"].get<std::string>().empty()) std::printf("Solution: %s\n", p["solution"].get<std::string>().c_str());
    if (!p["answer"].get<std::string>().empty()) std::printf("Answer: %s\n", p["answer"].get<std::string>().c_str());
    std::printf("\n");
  }
  if (static_cast<int>(problems.size()) != a.count) {
    std::fprintf(stderr, "note: asked for %d problems, parsed %zu\n", a.count, problems.size());
  }
  return 0;
}

const Command kTutor{
    "tutor", "Tutor: explain a concept at a level, or write practice problems with solutions",
    [](CLI::App& sub) -> Runner {
      auto a = std::make_shared<TutorArgs>();
      sub.require_subcommand(1);
      const char* kLevelHelp = "beginner, intermediate (default) or advanced";
      a->explain = sub.add_subcommand("explain", "Explain a concept");
      a->explain->add_option("concept", a->subject, "The concept, e.g. \"derivative\" or \"미분\"")->required();
      a->explain->add_option("--level", a->level, kLevelHelp);
      a->app.add_to(*a->explain);
      a->problems = sub.add_subcommand("problems", "Write practice problems with solutions and answers");
      a->problems->add_option("topic", a->subject, "The topic, e.g. \"linear equations\"")->required();
      a->problems->add_option("--count", a->count, "How many problems (1 to 10, default 3)");
      a->problems->add_option("--level", a->level, kLevelHelp);
      a->app.add_to(*a->problems);
      return [a] { return a->explain->parsed() ? run_explain(*a) : run_problems(*a); };
    }};

}  // namespace
}  // namespace fp4::cli
