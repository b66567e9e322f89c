#include "fp4/chat/jinja_template.h"

#include <fmt/format.h>

#include "fp4/base/error.h"
#include "fp4/chat/jinja_builtins.h"
#include "fp4/chat/jinja_interpreter.h"
#include "fp4/chat/jinja_parser.h"

namespace fp4::chat::jinja {

namespace {

[[noreturn]] void report(const std::string& origin, const RenderError& e, std::string_view kind) {
  if (e.line > 0) fail("{} line {}: {}{}", origin, e.line, kind, e.what());
  fail("{}: {}{}", origin, kind, e.what());
}

// Jinja reports an unknown filter or test when it compiles the template, except inside an `if` or an
// inline if-expression ("soft" code that may never run), where the error waits until it is reached. A
// for-loop or macro body starts a new, non-soft scope again.
void check_names(const Expr* expr, bool soft);
void check_names(const Body& body, bool soft);

void check_expr_list(const std::vector<ExprPtr>& list, bool soft) {
  for (const auto& e : list) check_names(e.get(), soft);
}

void check_names(const Expr* expr, bool soft) {
  if (expr == nullptr) return;
  if (!soft && expr->kind == ExprKind::kFilter && find_filter(expr->name) == nullptr) {
    throw RenderError(fmt::format("unsupported construct: no filter named '{}'", expr->name), expr->line);
  }
  if (!soft && expr->kind == ExprKind::kTest && find_test(expr->name) == nullptr) {
    throw RenderError(fmt::format("unsupported construct: no test named '{}'", expr->name), expr->line);
  }
  const bool inner_soft = soft || expr->kind == ExprKind::kConditional;
  for (const Expr* child : {expr->target.get(), expr->right.get(), expr->other.get(), expr->start.get(),
                            expr->stop.get(), expr->step.get(), expr->dyn_args.get(), expr->dyn_kwargs.get()}) {
    check_names(child, inner_soft);
  }
  check_expr_list(expr->args, inner_soft);
  for (const auto& [name, value] : expr->kwargs) check_names(value.get(), inner_soft);
}

void check_names(const Body& body, bool soft) {
  for (const auto& stmt : body) {
    const bool is_if = stmt->kind == StmtKind::kIf;
    const bool new_scope =
        stmt->kind == StmtKind::kFor || stmt->kind == StmtKind::kMacro || stmt->kind == StmtKind::kCallBlock;
    check_names(stmt->expr.get(), soft);
    check_names(stmt->condition.get(), false);
    for (const auto& [condition, branch] : stmt->branches) {
      check_names(condition.get(), true);
      check_names(branch, true);
    }
    check_names(stmt->body, new_scope ? false : soft);
    check_names(stmt->else_body, is_if || soft);
    check_expr_list(stmt->defaults, false);
    check_expr_list(stmt->filters, soft);
    for (const auto& [name, value] : stmt->assignments) check_names(value.get(), soft);
  }
}

}  // namespace

Template::Template(std::string_view source, std::string origin) : origin_(std::move(origin)) {
  try {
    body_ = parse_template(source);
    check_names(body_, false);
  } catch (const RenderError& e) {
    report(origin_, e, "");
  }
}

std::string Template::render(const Dict& variables) const {
  Dict globals;
  add_default_globals(globals);
  for (const auto& [k, v] : variables.items) globals.set(k, v);
  try {
    Interpreter interpreter(globals);
    return interpreter.render(body_);
  } catch (const TemplateRaised& e) {
    report(origin_, e, "raise_exception: ");
  } catch (const RenderError& e) {
    report(origin_, e, "");
  }
}

}  // namespace fp4::chat::jinja
