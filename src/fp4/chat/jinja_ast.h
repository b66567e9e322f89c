// The syntax tree of a parsed template. Every node keeps its template line so that runtime errors can
// name it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fp4/chat/jinja_value.h"

namespace fp4::chat::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  kLiteral,      // literal
  kName,         // name
  kList,         // args = items
  kTuple,        // args = items
  kDict,         // args = key0, value0, key1, value1, ...
  kGetAttr,      // target.name  (name may be an integer index: `items.0`)
  kGetItem,      // target[right]
  kSlice,        // target[start:stop:step]; missing parts are null
  kCall,         // target(args, kwargs)
  kFilter,       // target | name(args, kwargs); target is null inside {% filter %} and {% set %} blocks
  kTest,         // target is [not] name(args, kwargs)
  kNegate,       // -target
  kPlus,         // +target
  kNot,          // not target
  kBinary,       // target <name> right, name in + - * / // % ** ~
  kAnd,          // target and right
  kOr,           // target or right
  kCompare,      // args[0] ops[0] args[1] ops[1] args[2] ... (chained as in Python)
  kConditional,  // target if right else other (other null: undefined)
};

struct Expr {
  ExprKind kind;
  int line = 0;
  Value literal;
  std::string name;
  ExprPtr target, right, other;
  ExprPtr start, stop, step;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args, dyn_kwargs;  // f(*list, **dict)
  std::vector<std::string> ops;
  bool negated = false;
};

// What `for` and `set` assign to: a name, several names (unpacking), or a namespace attribute.
struct Target {
  enum class Kind { kName, kTuple, kAttribute } kind = Kind::kName;
  std::string name;                // kName; the namespace variable for kAttribute
  std::string attribute;           // kAttribute
  std::vector<std::string> names;  // kTuple
};

enum class StmtKind {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches (condition, body); else_body
  kFor,          // for target in expr [if condition]: body, else_body
  kSet,          // set target = expr
  kSetBlock,     // set target [| filters] %} body {% endset
  kMacro,        // macro name(params = defaults) body
  kFilterBlock,  // filter filters %} body {% endfilter
  kWith,         // with assignments %} body {% endwith
  kBreak,
  kContinue,
  kScope,        // body rendered as is (transformers' {% generation %} block)
  kCallBlock,    // call(params) expr %} body {% endcall: expr is a call that receives the body as `caller`
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  Target target;
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // parallel to params; null where a parameter has no default
  std::vector<ExprPtr> filters;   // kFilter nodes with a null target, applied in order
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  bool uses_loop = true;  // kFor: whether the body mentions `loop` (building it costs allocations)
};

}  // namespace fp4::chat::jinja
