// The applications' HTTP API, independent of the HTTP library: the server hands a POST's path and parsed
// JSON body here and writes back what it returns. The CLI's --json output goes through the same function,
// so `fp4serve math --json` and `POST /v1/apps/math/solve` print the same document.
//
//   POST /v1/apps/math/solve       {"problem", "language"?}                       → MathSolution
//   POST /v1/apps/code/generate    {"task", "language"?}                          → generated code
//   POST /v1/apps/code/review      {"code", "language"?, "focus"?: [..]}          → review
//   POST /v1/apps/tutor/explain    {"concept", "level"?, "language"?}             → explanation
//   POST /v1/apps/tutor/problems   {"topic", "count"?, "level"?, "language"?}     → practice problems
//
// Every body may also carry "model" (ignored: the server serves one model) and the sampling fields
// temperature, top_p, top_k, min_p, repetition_penalty, presence_penalty, frequency_penalty, seed,
// max_tokens, max_reasoning_tokens. Field by field documentation: docs/apps.md.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string_view>
#include <vector>

#include "fp4/apps/text_generator.h"

namespace fp4::apps {

// The paths handle_app_request answers (for the server's route table and its 404/405 logic).
const std::vector<std::string_view>& app_request_paths();

// Runs the application behind `path` on `body` (a JSON object).
// Returns nullopt for a path that is not an application endpoint (the server answers 404).
// Throws fp4::Error with one line naming the bad field for an invalid body (the server answers 400),
// e.g. `/v1/apps/tutor/problems: "count" is 50, expected an integer in [1, 10]`.
// Errors from the generator (an unreachable upstream, a rejected request) propagate unchanged.
std::optional<nlohmann::json> handle_app_request(std::string_view path, const nlohmann::json& body,
                                                 TextGenerator& generator);

}  // namespace fp4::apps
