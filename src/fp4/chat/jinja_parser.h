// Parses Jinja tokens into a syntax tree, following Jinja's grammar and operator precedence
// (or < and < not < comparisons < + - < ~ < * / // % < ** < unary < filters/tests/postfix).
// A construct outside the supported subset (include, import, extends, block, call, do, ...) fails with
// a RenderError naming the construct and its line.
#pragma once

#include <string_view>

#include "fp4/chat/jinja_ast.h"

namespace fp4::chat::jinja {

Body parse_template(std::string_view source);

}  // namespace fp4::chat::jinja
