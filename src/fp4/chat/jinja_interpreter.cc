#include "fp4/chat/jinja_interpreter.h"

#include <fmt/format.h>

#include "fp4/chat/jinja_builtins.h"
#include "fp4/chat/jinja_operations.h"

namespace fp4::chat::jinja {

struct Interpreter::Frame {
  std::vector<std::pair<std::string, Value>> variables;
  std::shared_ptr<Frame> parent;

  const Value* lookup(std::string_view name) const {
    for (const Frame* f = this; f != nullptr; f = f->parent.get()) {
      for (auto it = f->variables.rbegin(); it != f->variables.rend(); ++it) {
        if (it->first == name) return &it->second;
      }
    }
    return nullptr;
  }
  void set(const std::string& name, Value value) {
    for (auto& [n, v] : variables) {
      if (n == name) {
        v = std::move(value);
        return;
      }
    }
    variables.emplace_back(name, std::move(value));
  }
};

namespace {

std::shared_ptr<Interpreter::Frame> child_of(const std::shared_ptr<Interpreter::Frame>& parent);

}  // namespace

Interpreter::Interpreter(const Dict& globals) : globals_(std::make_shared<Frame>()) {
  for (const auto& [k, v] : globals.items) {
    if (k.is_string()) globals_->set(k.as_string(), v);
  }
}

Interpreter::~Interpreter() = default;

namespace {

std::shared_ptr<Interpreter::Frame> child_of(const std::shared_ptr<Interpreter::Frame>& parent) {
  auto frame = std::make_shared<Interpreter::Frame>();
  frame->parent = parent;
  return frame;
}

// Whether a value holds a namespace or a function. Namespace attributes may not: a namespace is the one
// mutable object, and storing one (or a function that captured one) in itself would make a reference
// cycle, which would never be freed and would print forever.
bool holds_reference(const Value& value) {
  if (value.is_namespace() || value.is_function()) return true;
  if (value.is_list()) {
    for (const Value& item : value.as_list().items) {
      if (holds_reference(item)) return true;
    }
  } else if (value.is_dict()) {
    for (const auto& [k, v] : value.as_dict().items) {
      if (holds_reference(v)) return true;
    }
  }
  return false;
}

// Attaches the template line to an error raised below a node that knows it.
template <typename F>
auto at_line(int line, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (RenderError& e) {
    if (e.line == 0) e.line = line;
    throw;
  }
}

}  // namespace

void Interpreter::tick() {
  if (++steps_ > kMaxEvaluationSteps) {
    throw_error(fmt::format("template exceeded {} evaluation steps", kMaxEvaluationSteps));
  }
}

std::string Interpreter::render(const Body& body) {
  std::string out;
  output_ = &out;
  auto root = child_of(globals_);
  const Flow flow = execute(body, root);
  if (flow != Flow::kNormal) throw_error("'break' or 'continue' outside a for loop");
  return out;
}

std::string Interpreter::capture(const Body& body, const std::shared_ptr<Frame>& frame) {
  std::string buffer;
  std::string* saved = output_;
  output_ = &buffer;
  try {
    const Flow flow = execute(body, frame);
    output_ = saved;
    if (flow != Flow::kNormal) throw_error("'break' or 'continue' outside a for loop");
  } catch (...) {
    output_ = saved;
    throw;
  }
  return buffer;
}

Interpreter::Flow Interpreter::execute(const Body& body, const std::shared_ptr<Frame>& frame) {
  for (const auto& stmt : body) {
    const Flow flow = at_line(stmt->line, [&] { return execute(*stmt, frame); });
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::execute(const Stmt& stmt, const std::shared_ptr<Frame>& frame) {
  tick();
  switch (stmt.kind) {
    case StmtKind::kText:
      *output_ += stmt.text;
      break;
    case StmtKind::kOutput:
      *output_ += to_str(evaluate(*stmt.expr, frame));
      break;
    case StmtKind::kIf:
      for (const auto& [condition, body] : stmt.branches) {
        if (evaluate(*condition, frame).truthy()) return execute(body, frame);
      }
      return execute(stmt.else_body, frame);
    case StmtKind::kFor:
      return execute_for(stmt, frame);
    case StmtKind::kSet:
      assign(stmt.target, evaluate(*stmt.expr, frame), *frame, stmt.line);
      break;
    case StmtKind::kSetBlock: {
      Value value = Value::string(capture(stmt.body, frame));
      assign(stmt.target, apply_filter_chain(stmt.filters, std::move(value), frame), *frame, stmt.line);
      break;
    }
    case StmtKind::kMacro:
      frame->set(stmt.name, make_macro(stmt, frame));
      break;
    case StmtKind::kFilterBlock: {
      Value value = Value::string(capture(stmt.body, child_of(frame)));
      *output_ += to_str(apply_filter_chain(stmt.filters, std::move(value), frame));
      break;
    }
    case StmtKind::kWith: {
      auto scope = child_of(frame);
      for (const auto& [name, expr] : stmt.assignments) scope->set(name, evaluate(*expr, frame));
      return execute(stmt.body, scope);
    }
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
    case StmtKind::kScope:
      return execute(stmt.body, frame);
    case StmtKind::kCallBlock: {
      // The block body becomes a macro named `caller` that the called macro can invoke.
      const Value callee = evaluate(*stmt.expr->target, frame);
      CallArgs args = evaluate_arguments(*stmt.expr, frame);
      args.keywords.emplace_back("caller", make_macro(stmt, frame));
      *output_ += to_str(call(callee, args));
      break;
    }
  }
  if (output_->size() > kMaxBuiltSize) throw_error("rendered text exceeds the size limit");
  return Flow::kNormal;
}

void Interpreter::assign(const Target& target, const Value& value, Frame& frame, int line) {
  switch (target.kind) {
    case Target::Kind::kName:
      frame.set(target.name, value);
      return;
    case Target::Kind::kTuple: {
      if (value.is_undefined()) fail_undefined(value);
      const std::vector<Value> items = iterate(value);
      if (items.size() != target.names.size()) {
        throw RenderError(items.size() > target.names.size()
                              ? fmt::format("too many values to unpack (expected {})", target.names.size())
                              : fmt::format("not enough values to unpack (expected {}, got {})",
                                            target.names.size(), items.size()),
                          line);
      }
      for (size_t i = 0; i < items.size(); ++i) frame.set(target.names[i], items[i]);
      return;
    }
    case Target::Kind::kAttribute: {
      const Value* object = frame.lookup(target.name);
      if (object == nullptr || !object->is_namespace()) {
        throw RenderError(fmt::format("cannot assign attribute '{}' on '{}': it is not a namespace()",
                                      target.attribute, target.name),
                          line);
      }
      if (holds_reference(value)) {
        throw RenderError(fmt::format("cannot store a namespace or a function in namespace attribute '{}.{}'",
                                      target.name, target.attribute),
                          line);
      }
      if (!target.attribute.empty() && target.attribute[0] == '_') {
        throw RenderError(fmt::format("chat templates cannot store underscore-prefixed attributes on a "
                                      "namespace, but got '{}'",
                                      target.attribute),
                          line);
      }
      object->as_namespace().attributes.set(Value::string(target.attribute), value);
      return;
    }
  }
}

Interpreter::Flow Interpreter::execute_for(const Stmt& stmt, const std::shared_ptr<Frame>& frame) {
  const Value iterable = evaluate(*stmt.expr, frame);
  if (iterable.is_none()) throw_error("'NoneType' object is not iterable");
  std::vector<Value> items = iterate(iterable);
  if (stmt.condition) {  // `for x in xs if cond`: filtered before loop.index and loop.length are computed
    std::vector<Value> kept;
    for (const Value& item : items) {
      tick();
      auto scope = child_of(frame);
      assign(stmt.target, item, *scope, stmt.line);
      if (evaluate(*stmt.condition, scope).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) return execute(stmt.else_body, frame);
  const int64_t length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; ++i) {
    tick();
    auto scope = child_of(frame);
    assign(stmt.target, items[static_cast<size_t>(i)], *scope, stmt.line);
    if (!stmt.uses_loop) {
      if (execute(stmt.body, scope) == Flow::kBreak) break;
      continue;
    }
    Dict loop;
    auto field = [&](const char* name, Value v) { loop.items.emplace_back(Value::string(name), std::move(v)); };
    field("index", Value::integer(i + 1));
    field("index0", Value::integer(i));
    field("revindex", Value::integer(length - i));
    field("revindex0", Value::integer(length - i - 1));
    field("first", Value::boolean(i == 0));
    field("last", Value::boolean(i == length - 1));
    field("length", Value::integer(length));
    field("depth", Value::integer(1));
    field("depth0", Value::integer(0));
    field("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    field("nextitem", i + 1 < length ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    field("cycle", Value::function("loop.cycle", [i](Interpreter&, CallArgs& args) {
            if (args.positional.empty()) throw_error("no items for cycling given");
            return args.positional[static_cast<size_t>(i) % args.positional.size()];
          }));
    scope->set("loop", Value::dict(std::move(loop)));
    const Flow flow = execute(stmt.body, scope);
    if (flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Value Interpreter::apply_filter_chain(const std::vector<ExprPtr>& filters, Value value,
                                      const std::shared_ptr<Frame>& frame) {
  for (const auto& filter : filters) {
    CallArgs args = evaluate_arguments(*filter, frame);
    value = at_line(filter->line, [&] { return apply_filter(filter->name, value, args); });
  }
  return value;
}

Value Interpreter::make_macro(const Stmt& stmt, const std::shared_ptr<Frame>& frame) {
  const Stmt* definition = &stmt;
  macro_scopes_.push_back(frame);
  std::weak_ptr<Frame> closure = frame;
  return Value::function(stmt.name, [definition, closure](Interpreter& self, CallArgs& args) {
    if (self.call_depth_ >= kMaxCallDepth) throw_error("maximum macro recursion depth exceeded");
    auto defining_scope = closure.lock();
    if (!defining_scope) throw_error(fmt::format("macro '{}' was called after its template finished", definition->name));
    auto scope = child_of(defining_scope);
    const auto& params = definition->params;
    std::vector<Value> extra_positional;
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (i < params.size()) {
        scope->set(params[i], args.positional[i]);
      } else {
        extra_positional.push_back(args.positional[i]);
      }
    }
    Dict extra_keywords;
    for (auto& [name, value] : args.keywords) {
      if (name == "caller") {  // the body of a {% call %} block
        scope->set(name, value);
        continue;
      }
      bool known = false;
      for (size_t i = 0; i < params.size(); ++i) {
        if (params[i] != name) continue;
        if (i < args.positional.size()) {
          throw_error(fmt::format("macro '{}' got multiple values for argument '{}'", definition->name, name));
        }
        known = true;
      }
      if (known) {
        scope->set(name, value);
      } else {
        extra_keywords.items.emplace_back(Value::string(name), value);
      }
    }
    for (size_t i = 0; i < params.size(); ++i) {
      bool bound = false;
      for (const auto& [n, v] : scope->variables) bound = bound || n == params[i];
      if (bound) continue;
      if (definition->defaults[i]) {
        scope->set(params[i], self.evaluate(*definition->defaults[i], scope));
      } else {
        scope->set(params[i], Value::undefined(fmt::format("parameter '{}' was not provided", params[i])));
      }
    }
    scope->set("varargs", Value::list(std::move(extra_positional), true));
    scope->set("kwargs", Value::dict(std::move(extra_keywords)));
    ++self.call_depth_;
    try {
      std::string text = self.capture(definition->body, scope);
      --self.call_depth_;
      return Value::string(std::move(text));
    } catch (...) {
      --self.call_depth_;
      throw;
    }
  });
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_function()) return callee.as_function().call(*this, args);
  if (callee.is_undefined()) fail_undefined(callee);
  throw_error(fmt::format("'{}' object is not callable", callee.type_name()));
}

Value Interpreter::apply_filter(std::string_view name, const Value& subject, CallArgs& args) {
  FilterFunction filter = find_filter(name);
  if (filter == nullptr) throw_error(fmt::format("unsupported construct: no filter named '{}'", name));
  return filter(*this, subject, args);
}

bool Interpreter::apply_test(std::string_view name, const Value& subject, CallArgs& args) {
  TestFunction test = find_test(name);
  if (test == nullptr) throw_error(fmt::format("unsupported construct: no test named '{}'", name));
  return test(*this, subject, args);
}

CallArgs Interpreter::evaluate_arguments(const Expr& expr, const std::shared_ptr<Frame>& frame) {
  CallArgs args;
  for (const auto& a : expr.args) args.positional.push_back(evaluate(*a, frame));
  for (const auto& [name, value] : expr.kwargs) args.keywords.emplace_back(name, evaluate(*value, frame));
  if (expr.dyn_args) {
    const Value extra = evaluate(*expr.dyn_args, frame);
    if (extra.is_undefined()) fail_undefined(extra);
    for (const Value& v : iterate(extra)) args.positional.push_back(v);
  }
  if (expr.dyn_kwargs) {
    const Value extra = evaluate(*expr.dyn_kwargs, frame);
    if (!extra.is_dict()) throw_error(fmt::format("argument after ** must be a mapping, not {}", extra.type_name()));
    for (const auto& [k, v] : extra.as_dict().items) {
      if (!k.is_string()) throw_error("keywords must be strings");
      args.keywords.emplace_back(k.as_string(), v);
    }
  }
  return args;
}

Value Interpreter::evaluate(const Expr& expr, const std::shared_ptr<Frame>& frame) {
  return at_line(expr.line, [&] { return evaluate_node(expr, frame); });
}

bool Interpreter::compare(std::string_view op, const Value& left, const Value& right) {
  if (op == "==") return equals(left, right);
  if (op == "!=") return !equals(left, right);
  if (op == "in") return contains(right, left);
  if (op == "not in") return !contains(right, left);
  if (left.is_undefined()) fail_undefined(left);
  if (right.is_undefined()) fail_undefined(right);
  auto ordered = [&](const Value& a, const Value& b) {
    try {
      return less_than(a, b);
    } catch (const RenderError&) {
      throw_error(fmt::format("'{}' not supported between instances of '{}' and '{}'", op, left.type_name(),
                              right.type_name()));
    }
  };
  if (op == "<") return ordered(left, right);
  if (op == ">") return ordered(right, left);
  if (op == "<=") return !ordered(right, left);
  if (op == ">=") return !ordered(left, right);
  throw_error(fmt::format("unknown comparison '{}'", op));
}

namespace {

std::optional<int64_t> slice_bound(const Value& v) {
  if (v.is_none()) return std::nullopt;
  if (v.is_int() || v.is_bool()) return v.as_int();
  if (v.is_undefined()) fail_undefined(v);
  throw_error("slice indices must be integers or None");
}

}  // namespace

Value Interpreter::evaluate_node(const Expr& expr, const std::shared_ptr<Frame>& frame) {
  tick();
  switch (expr.kind) {
    case ExprKind::kLiteral:
      return expr.literal;
    case ExprKind::kName: {
      const Value* v = frame->lookup(expr.name);
      return v != nullptr ? *v : Value::undefined(fmt::format("'{}' is undefined", expr.name));
    }
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      for (const auto& a : expr.args) items.push_back(evaluate(*a, frame));
      return Value::list(std::move(items), expr.kind == ExprKind::kTuple);
    }
    case ExprKind::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < expr.args.size(); i += 2) {
        Value key = evaluate(*expr.args[i], frame);
        if (key.is_list() && !key.as_list().is_tuple) throw_error("unhashable type: 'list'");
        if (key.is_dict()) throw_error("unhashable type: 'dict'");
        d.set(std::move(key), evaluate(*expr.args[i + 1], frame));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::kGetAttr: {
      const Value object = evaluate(*expr.target, frame);
      if (expr.negated) return get_item(object, Value::integer(index_from_digits(expr.name)));
      return get_attribute(object, expr.name);
    }
    case ExprKind::kGetItem: {
      const Value object = evaluate(*expr.target, frame);
      return get_item(object, evaluate(*expr.right, frame));
    }
    case ExprKind::kSlice: {
      const Value object = evaluate(*expr.target, frame);
      auto bound = [&](const ExprPtr& e) -> std::optional<int64_t> {
        return e ? slice_bound(evaluate(*e, frame)) : std::nullopt;
      };
      auto start = bound(expr.start);
      auto stop = bound(expr.stop);
      auto step = bound(expr.step);
      return get_slice(object, start, stop, step);
    }
    case ExprKind::kCall: {
      const Value callee = evaluate(*expr.target, frame);
      CallArgs args = evaluate_arguments(expr, frame);
      return call(callee, args);
    }
    case ExprKind::kFilter: {
      const Value subject = evaluate(*expr.target, frame);
      CallArgs args = evaluate_arguments(expr, frame);
      return apply_filter(expr.name, subject, args);
    }
    case ExprKind::kTest: {
      const Value subject = evaluate(*expr.target, frame);
      CallArgs args = evaluate_arguments(expr, frame);
      return Value::boolean(apply_test(expr.name, subject, args) != expr.negated);
    }
    case ExprKind::kNegate:
    case ExprKind::kPlus: {
      const Value v = evaluate(*expr.target, frame);
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number()) {
        throw_error(fmt::format("bad operand type for unary {}: '{}'", expr.kind == ExprKind::kNegate ? '-' : '+',
                                v.type_name()));
      }
      if (expr.kind == ExprKind::kPlus) return v.is_bool() ? Value::integer(v.as_int()) : v;
      if (v.is_float()) return Value::floating(-v.as_double());
      return binary_operation("-", Value::integer(0), v);
    }
    case ExprKind::kNot:
      return Value::boolean(!evaluate(*expr.target, frame).truthy());
    case ExprKind::kBinary: {
      const Value left = evaluate(*expr.target, frame);
      const Value right = evaluate(*expr.right, frame);
      return binary_operation(expr.name, left, right);
    }
    case ExprKind::kAnd: {
      Value left = evaluate(*expr.target, frame);
      return left.truthy() ? evaluate(*expr.right, frame) : left;
    }
    case ExprKind::kOr: {
      Value left = evaluate(*expr.target, frame);
      return left.truthy() ? left : evaluate(*expr.right, frame);
    }
    case ExprKind::kCompare: {
      Value left = evaluate(*expr.args[0], frame);
      for (size_t i = 0; i < expr.ops.size(); ++i) {
        Value right = evaluate(*expr.args[i + 1], frame);
        if (!compare(expr.ops[i], left, right)) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case ExprKind::kConditional: {
      if (evaluate(*expr.right, frame).truthy()) return evaluate(*expr.target, frame);
      if (expr.other) return evaluate(*expr.other, frame);
      return Value::undefined(fmt::format(
          "the inline if-expression on line {} evaluated to false and no else section was defined", expr.line));
    }
  }
  throw_error("unknown expression");
}

}  // namespace fp4::chat::jinja
