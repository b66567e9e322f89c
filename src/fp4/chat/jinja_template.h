// A compiled Jinja template: parse once, render many times with different variables.
#pragma once

#include <string>
#include <string_view>

#include "fp4/chat/jinja_ast.h"
#include "fp4/chat/jinja_value.h"

namespace fp4::chat::jinja {

class Template {
 public:
  // Parses `source` and checks that every filter and test it names exists (as Jinja does at compile
  // time). Throws fp4::Error "<origin> line N: ..." for syntax errors and unsupported constructs.
  Template(std::string_view source, std::string origin);

  // Renders with `variables` (plus range, dict, namespace, raise_exception, strftime_now). Throws
  // fp4::Error "<origin> line N: ..." for runtime errors, and for raise_exception() calls
  // "<origin> line N: raise_exception: <message>".
  std::string render(const Dict& variables) const;

  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  Body body_;
};

}  // namespace fp4::chat::jinja
