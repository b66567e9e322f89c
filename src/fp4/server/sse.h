// Server-sent events framing (the WHATWG event-stream format that OpenAI streaming uses): each event
// is one "data: <json>" line and a blank line; the stream ends with "data: [DONE]". JSON is written
// compact, so a payload never contains a raw newline that would split the event. Comment lines (":")
// keep an idle stream alive and let the server notice a client that went away; clients skip them.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace fp4::server {

// Compact JSON text; bytes that are not valid UTF-8 (none should reach here) become U+FFFD instead of
// throwing.
std::string json_text(const nlohmann::ordered_json& value);

std::string sse_event(const nlohmann::ordered_json& payload);  // "data: {...}\n\n"
std::string sse_done();                                         // "data: [DONE]\n\n"
std::string sse_comment(std::string_view text);                 // ": text\n\n" (newlines in text dropped)

}  // namespace fp4::server
