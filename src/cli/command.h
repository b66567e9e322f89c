// Subcommand registry. Each src/cli/cmd_<name>.cc defines one static `Command` whose `setup` adds its
// options to a CLI11 subcommand and returns the function that runs it. main.cc knows no command by name.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace fp4::cli {

// Runs the command after parsing; returns the process exit code.
using Runner = std::function<int()>;
using Setup = std::function<Runner(CLI::App& sub)>;

struct CommandSpec {
  std::string name;
  std::string help;
  Setup setup;
};

std::vector<CommandSpec>& command_registry();

struct Command {
  Command(std::string name, std::string help, Setup setup) {
    command_registry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

}  // namespace fp4::cli
