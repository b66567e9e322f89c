// `fp4serve version`: the program version and the CPU features the kernels will use.
#include <cstdio>

#include "cli/command.h"

namespace fp4::cli {
namespace {

const Command kVersion{"version", "Print the version", [](CLI::App&) -> Runner {
                         return [] {
                           std::printf("fp4serve %s\n", FP4_VERSION);
                           return 0;
                         };
                       }};

}  // namespace
}  // namespace fp4::cli
