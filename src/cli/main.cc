// fp4serve: one program for quantizing, running, serving and evaluating FP4 reasoning models.
// Subcommands live in cmd_<name>.cc and register themselves (command.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "cli/command.h"
#include "fp4/base/error.h"

namespace fp4::cli {

std::vector<CommandSpec>& command_registry() {
  static std::vector<CommandSpec> registry;
  return registry;
}

}  // namespace fp4::cli

int main(int argc, char** argv) {
  CLI::App app{"fp4serve: quantize, run, serve and evaluate FP4 (NVFP4) and FP8 reasoning models", "fp4serve"};
  app.set_version_flag("--version", std::string("fp4serve ") + FP4_VERSION);
  app.require_subcommand(1);

  auto& registry = fp4::cli::command_registry();
  std::sort(registry.begin(), registry.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, fp4::cli::Runner>> commands;
  try {
    for (auto& spec : registry) {
      CLI::App* sub = app.add_subcommand(spec.name, spec.help);
      commands.emplace_back(sub, spec.setup(*sub));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fp4serve: internal error while setting up commands: %s\n", e.what());
    return 70;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    for (auto& [sub, run] : commands) {
      if (sub->parsed()) return run();
    }
  } catch (const fp4::Error& e) {
    std::fprintf(stderr, "fp4serve: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "fp4serve: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fp4serve: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
