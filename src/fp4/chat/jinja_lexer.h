// Splits template source into tokens the way Jinja's lexer does with the environment transformers uses
// for chat templates: trim_blocks (the newline after a block tag is dropped), lstrip_blocks (spaces and
// tabs before a block tag on its own line are dropped), `-`/`+` whitespace control on every tag,
// comments, {% raw %}, and no trailing newline (keep_trailing_newline is false).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fp4::chat::jinja {

enum class TokenType {
  kText,           // literal template text between tags
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,         // value holds the decoded literal
  kInteger,
  kFloat,
  kOperator,
  kEnd,
};

struct Token {
  TokenType type;
  std::string value;
  int line;
};

// Throws RenderError (with the line) for unterminated tags, strings or comments and for characters that
// cannot start a token.
std::vector<Token> tokenize(std::string_view source);

const char* token_type_name(TokenType type);

}  // namespace fp4::chat::jinja
