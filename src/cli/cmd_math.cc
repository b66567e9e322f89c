// `fp4serve math "2x + 5 = 15를 풀어주세요" -m models/tiny-r1` (or --url http://127.0.0.1:8000): solves a
// math problem step by step and prints the solution and its final \boxed{} answer.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/app_options.h"

namespace fp4::cli {
namespace {

struct MathArgs {
  std::string problem;
  apps::AppCliOptions app;
};

int run_math(const MathArgs& a) {
  const nlohmann::json out = a.app.run("/v1/apps/math/solve", {{"problem", a.problem}, {"language", a.app.language}});
  if (a.app.json) return 0;
  a.app.print_reasoning(out);
  std::printf("%s\n\n", out["full_solution"].get<std::string>().c_str());
  if (out["has_boxed_answer"].get<bool>()) {
    std::printf("Final answer: %s%s\n", out["final_answer"].get<std::string>().c_str(),
                out["answer_from_reasoning"].get<bool>() ? " (from the reasoning; the answer was cut off)" : "");
  } else if (!out["final_answer"].get<std::string>().empty()) {
    std::printf("Final answer (no \\boxed{}): %s\n", out["final_answer"].get<std::string>().c_str());
  } else {
    std::printf("No final answer found (finish reason: %s)\n", out["finish_reason"].get<std::string>().c_str());
  }
  return 0;
}

const Command kMath{"math", "Solve a math problem step by step (Korean or English) with a final \\boxed{} answer",
                    [](CLI::App& sub) -> Runner {
                      auto a = std::make_shared<MathArgs>();
                      sub.add_option("problem", a->problem, "The problem, e.g. \"What is 17 × 23?\"")->required();
                      a->app.add_to(sub);
                      return [a] { return run_math(*a); };
                    }};

}  // namespace
}  // namespace fp4::cli
