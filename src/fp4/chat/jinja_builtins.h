// Jinja's built-in filters and tests, the methods of str/dict/list that templates call, and the
// globals transformers provides (range, dict, namespace, raise_exception, strftime_now).
#pragma once

#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include "fp4/chat/jinja_value.h"

namespace fp4::chat::jinja {

class Interpreter;

using FilterFunction = Value (*)(Interpreter&, const Value& subject, CallArgs& args);
using TestFunction = bool (*)(Interpreter&, const Value& subject, CallArgs& args);

// nullptr when the name is unknown.
FilterFunction find_filter(std::string_view name);
TestFunction find_test(std::string_view name);

// A str/dict/list method bound to `self` (e.g. "abc".upper), or nullopt when `self` has no such method.
// Methods that would mutate a list or dict fail, as in Jinja's ImmutableSandboxedEnvironment.
std::optional<Value> bound_method(const Value& self, std::string_view name);

// The global functions every chat template sees.
void add_default_globals(Dict& globals);

// Binds call arguments to parameter names in order; keywords may name any parameter. Fails for unknown
// keywords, duplicates and too many positional arguments, naming `function`.
std::vector<std::optional<Value>> bind_arguments(std::string_view function, const CallArgs& args,
                                                 std::initializer_list<std::string_view> names);

}  // namespace fp4::chat::jinja
