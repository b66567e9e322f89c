// The comparison report of `fp4serve eval --compare A B`, laid out like the accuracy table of NVIDIA's
// FP4 model cards: a row per model, a column per suite, and a retention row (B's pass@1 / A's, in %).
// Cells read "pass@1 % [95% CI low, high]". Also as JSON, and as an SVG grouped bar chart (one group per
// suite, one bar per model, error bars from the CI), written by hand; PNG through rsvg-convert when it is
// installed.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "fp4/eval/runner.h"

namespace fp4::eval {

// Markdown for any number of models (one row each); with two or more, a retention row of the last model
// against the first.
std::string scores_markdown(const std::vector<ModelScores>& models);
nlohmann::ordered_json compare_json(const std::vector<ModelScores>& models);
std::string scores_svg(const std::vector<ModelScores>& models, const std::string& title);

// Writes compare.md, compare.json, compare.svg (and compare.png when rsvg-convert is on PATH) into `dir`
// (created). Returns the paths written.
std::vector<std::string> write_compare_report(const std::vector<ModelScores>& models, const std::string& dir,
                                              const std::string& title);

}  // namespace fp4::eval
