// Runs a parsed template. Scoping follows Jinja: each iteration of a for loop and each macro call gets
// its own scope, `if` does not, `{% set %}` writes to the innermost scope, and namespace() objects are
// the way to carry state out of a loop.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "fp4/chat/jinja_ast.h"
#include "fp4/chat/jinja_value.h"

namespace fp4::chat::jinja {

// Work limits that stop a hostile or runaway template (a loop over range(10**9), unbounded macro
// recursion) with an error instead of hanging. Real chat templates use a few thousand steps per message.
inline constexpr int64_t kMaxEvaluationSteps = 2'000'000;
inline constexpr int kMaxCallDepth = 64;

class Interpreter {
 public:
  struct Frame;  // one scope of variables (defined in the .cc)

  explicit Interpreter(const Dict& globals);
  ~Interpreter();

  // Renders `body` and returns the text. Throws RenderError with the template line of the failure.
  std::string render(const Body& body);

  Value call(const Value& callee, CallArgs& args);
  Value apply_filter(std::string_view name, const Value& subject, CallArgs& args);
  bool apply_test(std::string_view name, const Value& subject, CallArgs& args);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow execute(const Body& body, const std::shared_ptr<Frame>& frame);
  Flow execute(const Stmt& stmt, const std::shared_ptr<Frame>& frame);
  Flow execute_for(const Stmt& stmt, const std::shared_ptr<Frame>& frame);
  void assign(const Target& target, const Value& value, Frame& frame, int line);
  std::string capture(const Body& body, const std::shared_ptr<Frame>& frame);
  Value apply_filter_chain(const std::vector<ExprPtr>& filters, Value value, const std::shared_ptr<Frame>& frame);
  Value make_macro(const Stmt& stmt, const std::shared_ptr<Frame>& frame);

  Value evaluate(const Expr& expr, const std::shared_ptr<Frame>& frame);
  Value evaluate_node(const Expr& expr, const std::shared_ptr<Frame>& frame);
  CallArgs evaluate_arguments(const Expr& expr, const std::shared_ptr<Frame>& frame);
  bool compare(std::string_view op, const Value& left, const Value& right);
  void tick();

  std::shared_ptr<Frame> globals_;
  // Scopes that macros were defined in. Macros refer to them weakly (a scope holds its macros, so a
  // strong reference would be a cycle that never frees); this keeps them alive until the render ends.
  std::vector<std::shared_ptr<Frame>> macro_scopes_;
  std::string* output_ = nullptr;
  int64_t steps_ = 0;
  int call_depth_ = 0;
};

}  // namespace fp4::chat::jinja
