// Python semantics of the operations templates perform on values: attribute and item access (Jinja's
// sandboxed getattr/getitem), slicing, iteration, membership and the arithmetic operators.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "fp4/chat/jinja_value.h"

namespace fp4::chat::jinja {

// Largest string or list an operation may build (repetition, join, output); beyond it rendering fails
// instead of exhausting memory on a hostile template.
inline constexpr size_t kMaxBuiltSize = size_t{64} << 20;

// Throws the UndefinedError Jinja raises when an undefined value is used ("'x' is undefined").
[[noreturn]] void fail_undefined(const Value& undefined);

// obj.name: a method of str/dict/list first, then a dict key or namespace attribute (Jinja's order).
Value get_attribute(const Value& object, std::string_view name);
// obj[key]: dict key, list/str index (negative from the end), then attribute; missing → undefined.
Value get_item(const Value& object, const Value& key);
// The integer of a digits-only index written as an attribute (`x.0`, `map(attribute="a.1")`). A number
// past int64 is out of range for every list and string and matches no dict key, as the huge int would in
// Python, so it saturates instead of failing the parse.
int64_t index_from_digits(std::string_view digits);
// obj[start:stop:step] for str, list and tuple.
Value get_slice(const Value& object, std::optional<int64_t> start, std::optional<int64_t> stop,
                std::optional<int64_t> step);

// The items `for` visits: list/tuple items, dict keys, string characters; undefined is empty.
std::vector<Value> iterate(const Value& value);
// Python `item in container`.
bool contains(const Value& container, const Value& item);
// Python binary operators + - * / // % ** and Jinja's ~ (string concatenation).
Value binary_operation(std::string_view op, const Value& left, const Value& right);
// Python printf-style formatting (`"%s" % x` and the `format` filter).
std::string percent_format(const std::string& format, const Value& arguments);

// Description of an object as Jinja's error messages write it ("dict object", "None").
std::string object_description(const Value& value);

}  // namespace fp4::chat::jinja
