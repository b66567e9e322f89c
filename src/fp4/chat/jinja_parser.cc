#include "fp4/chat/jinja_parser.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <set>

#include "fp4/chat/jinja_lexer.h"

namespace fp4::chat::jinja {

namespace {

ExprPtr make(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

// Tags Jinja knows that this interpreter deliberately does not run: chat templates never need loading
// other templates, and {% call %}/{% do %} appear in none of the supported model families.
const std::set<std::string_view> kUnsupportedTags = {
    "include", "import", "from", "extends", "block", "do", "autoescape", "trans", "pluralize", "print",
};

// Nesting limit for expressions and blocks, so that hostile input cannot overflow the stack of this
// recursive-descent parser (real templates nest a handful of levels).
constexpr int kMaxNesting = 100;

bool mentions_name(const Body& body, std::string_view name);

bool mentions_name(const Expr* e, std::string_view name) {
  if (e == nullptr) return false;
  if (e->kind == ExprKind::kName && e->name == name) return true;
  for (const Expr* child : {e->target.get(), e->right.get(), e->other.get(), e->start.get(), e->stop.get(),
                            e->step.get(), e->dyn_args.get(), e->dyn_kwargs.get()}) {
    if (mentions_name(child, name)) return true;
  }
  for (const auto& a : e->args) {
    if (mentions_name(a.get(), name)) return true;
  }
  for (const auto& [k, v] : e->kwargs) {
    if (mentions_name(v.get(), name)) return true;
  }
  return false;
}

bool mentions_name(const Body& body, std::string_view name) {
  for (const auto& s : body) {
    if (mentions_name(s->expr.get(), name) || mentions_name(s->condition.get(), name) ||
        mentions_name(s->body, name) || mentions_name(s->else_body, name)) {
      return true;
    }
    for (const auto& [c, b] : s->branches) {
      if (mentions_name(c.get(), name) || mentions_name(b, name)) return true;
    }
    for (const auto& list : {&s->defaults, &s->filters}) {
      for (const auto& e : *list) {
        if (mentions_name(e.get(), name)) return true;
      }
    }
    for (const auto& [k, v] : s->assignments) {
      if (mentions_name(v.get(), name)) return true;
    }
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Body parse_all() {
    std::string end_tag;
    Body body = parse_body({}, &end_tag);
    if (current().type != TokenType::kEnd) fail_here("unexpected tag");
    return body;
  }

 private:
  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  int line() const { return current().line; }
  void next() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }

  [[noreturn]] void fail_at(int line, const std::string& message) const { throw RenderError(message, line); }
  [[noreturn]] void fail_here(const std::string& what) const {
    const Token& t = current();
    std::string shown = t.type == TokenType::kName || t.type == TokenType::kOperator ? fmt::format("'{}'", t.value)
                        : t.type == TokenType::kString ? "string" : token_type_name(t.type);
    fail_at(t.line, fmt::format("{}: found {}", what, shown));
  }

  bool is_op(std::string_view op) const { return current().type == TokenType::kOperator && current().value == op; }
  bool is_name(std::string_view name) const { return current().type == TokenType::kName && current().value == name; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail_here(fmt::format("expected '{}'", op));
  }
  std::string expect_name() {
    if (current().type != TokenType::kName) fail_here("expected a name");
    std::string name = current().value;
    next();
    return name;
  }
  void expect_block_end(std::string_view tag) {
    if (current().type != TokenType::kBlockEnd) fail_here(fmt::format("expected '%}}' to end the '{}' tag", tag));
    next();
  }

  // Parses statements until a {% name %} whose name is in `end_names`; leaves the position on that name.
  Body parse_body(const std::vector<std::string_view>& end_names, std::string* found_end) {
    Body body;
    while (true) {
      const Token& t = current();
      if (t.type == TokenType::kEnd) {
        if (!end_names.empty()) {
          std::string expected;
          for (auto n : end_names) expected += (expected.empty() ? "" : " or ") + fmt::format("'{{% {} %}}'", n);
          fail_at(t.line, fmt::format("template ended while looking for {}", expected));
        }
        return body;
      }
      if (t.type == TokenType::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->line = t.line;
        s->text = t.value;
        body.push_back(std::move(s));
        next();
      } else if (t.type == TokenType::kVariableBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kOutput;
        s->line = line();
        s->expr = parse_tuple();
        if (current().type != TokenType::kVariableEnd) fail_here("expected '}}'");
        next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kBlockBegin) {
        next();
        if (current().type != TokenType::kName) fail_here("expected a tag name after '{%'");
        const std::string& tag = current().value;
        for (auto n : end_names) {
          if (tag == n) {
            *found_end = tag;
            return body;
          }
        }
        body.push_back(parse_statement());
      } else {
        fail_here("unexpected token");
      }
    }
  }

  StmtPtr parse_statement() {
    NestingGuard guard(*this);
    const std::string tag = current().value;
    const int tag_line = line();
    if (kUnsupportedTags.count(tag) > 0) {
      fail_at(tag_line, fmt::format("unsupported construct '{{% {} %}}'", tag));
    }
    auto s = std::make_unique<Stmt>();
    s->line = tag_line;
    next();
    if (tag == "if") return parse_if(std::move(s));
    if (tag == "for") return parse_for(std::move(s));
    if (tag == "set") return parse_set(std::move(s));
    if (tag == "macro") return parse_macro(std::move(s));
    if (tag == "call") {
      s->kind = StmtKind::kCallBlock;
      s->name = "caller";
      if (is_op("(")) parse_parameters(*s);
      s->expr = parse_expression();
      if (s->expr->kind != ExprKind::kCall) fail_at(tag_line, "'{% call %}' needs a macro call");
      expect_block_end("call");
      s->body = parse_closed_body("endcall");
      return s;
    }
    if (tag == "filter") {
      s->kind = StmtKind::kFilterBlock;
      parse_filter_chain(s->filters);
      expect_block_end("filter");
      s->body = parse_closed_body("endfilter");
      return s;
    }
    if (tag == "with") {
      s->kind = StmtKind::kWith;
      while (current().type != TokenType::kBlockEnd) {
        if (!s->assignments.empty()) expect_op(",");
        std::string name = expect_name();
        expect_op("=");
        s->assignments.emplace_back(std::move(name), parse_expression());
      }
      expect_block_end("with");
      s->body = parse_closed_body("endwith");
      return s;
    }
    if (tag == "break" || tag == "continue") {
      s->kind = tag == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      expect_block_end(tag);
      return s;
    }
    if (tag == "generation") {
      s->kind = StmtKind::kScope;
      expect_block_end(tag);
      s->body = parse_closed_body("endgeneration");
      return s;
    }
    fail_at(tag_line, fmt::format("unknown or unsupported tag '{{% {} %}}'", tag));
  }

  // Body up to {% end_name %}, consuming the end tag.
  Body parse_closed_body(std::string_view end_name) {
    std::string found;
    Body body = parse_body({end_name}, &found);
    next();
    expect_block_end(end_name);
    return body;
  }

  StmtPtr parse_if(StmtPtr s) {
    s->kind = StmtKind::kIf;
    ExprPtr condition = parse_tuple();
    expect_block_end("if");
    while (true) {
      std::string found;
      Body body = parse_body({"elif", "else", "endif"}, &found);
      s->branches.emplace_back(std::move(condition), std::move(body));
      next();
      if (found == "elif") {
        condition = parse_tuple();
        expect_block_end("elif");
        continue;
      }
      if (found == "else") {
        expect_block_end("else");
        s->else_body = parse_closed_body("endif");
      } else {
        expect_block_end("endif");
      }
      return s;
    }
  }

  Target parse_target(bool allow_attribute) {
    Target target;
    std::string first = expect_name();
    if (allow_attribute && skip_op(".")) {
      target.kind = Target::Kind::kAttribute;
      target.name = std::move(first);
      target.attribute = expect_name();
      return target;
    }
    if (!is_op(",")) {
      target.name = std::move(first);
      return target;
    }
    target.kind = Target::Kind::kTuple;
    target.names.push_back(std::move(first));
    while (skip_op(",")) {
      if (current().type != TokenType::kName || is_name("in")) break;
      target.names.push_back(expect_name());
    }
    return target;
  }

  StmtPtr parse_for(StmtPtr s) {
    s->kind = StmtKind::kFor;
    s->target = parse_target(false);
    if (!skip_name("in")) fail_here("expected 'in' in a for loop");
    s->expr = parse_tuple(/*with_condexpr=*/false);
    if (skip_name("if")) s->condition = parse_expression();
    if (is_name("recursive")) fail_at(line(), "unsupported construct 'recursive' for loop");
    expect_block_end("for");
    std::string found;
    s->body = parse_body({"endfor", "else"}, &found);
    s->uses_loop = mentions_name(s->body, "loop");
    next();
    if (found == "else") {
      expect_block_end("else");
      s->else_body = parse_closed_body("endfor");
    } else {
      expect_block_end("endfor");
    }
    return s;
  }

  StmtPtr parse_set(StmtPtr s) {
    s->target = parse_target(true);
    if (skip_op("=")) {
      s->kind = StmtKind::kSet;
      s->expr = parse_tuple();
      expect_block_end("set");
      return s;
    }
    if (s->target.kind == Target::Kind::kTuple) fail_here("a block set assigns one name");
    s->kind = StmtKind::kSetBlock;
    if (is_op("|")) parse_filter_chain(s->filters);
    expect_block_end("set");
    s->body = parse_closed_body("endset");
    return s;
  }

  StmtPtr parse_macro(StmtPtr s) {
    s->kind = StmtKind::kMacro;
    s->name = expect_name();
    parse_parameters(*s);
    expect_block_end("macro");
    s->body = parse_closed_body("endmacro");
    return s;
  }

  // (a, b=default, ...) of a macro or call block.
  void parse_parameters(Stmt& s) {
    expect_op("(");
    while (!skip_op(")")) {
      if (!s.params.empty()) expect_op(",");
      if (skip_op(")")) break;  // trailing comma
      s.params.push_back(expect_name());
      s.defaults.push_back(skip_op("=") ? parse_expression() : nullptr);
    }
  }

  // `| a(x) | b` → kFilter nodes with null targets.
  void parse_filter_chain(std::vector<ExprPtr>& filters) {
    skip_op("|");
    do {
      filters.push_back(parse_filter_call(nullptr));
    } while (skip_op("|"));
  }

  // ---- expressions --------------------------------------------------------------------------------

  // A comma-separated list becomes a tuple; `{{ a, b }}` prints "(a, b)".
  ExprPtr parse_tuple(bool with_condexpr = true) {
    const int start_line = line();
    ExprPtr first = with_condexpr ? parse_expression() : parse_or();
    if (!is_op(",")) return first;
    auto tuple = make(ExprKind::kTuple, start_line);
    tuple->args.push_back(std::move(first));
    while (skip_op(",")) {
      if (at_tuple_end()) break;
      tuple->args.push_back(with_condexpr ? parse_expression() : parse_or());
    }
    return tuple;
  }

  bool at_tuple_end() const {
    const auto type = current().type;
    return type == TokenType::kVariableEnd || type == TokenType::kBlockEnd || type == TokenType::kEnd ||
           is_op(")") || is_op("]") || is_op("}") || is_name("if") || is_name("in");
  }

  struct NestingGuard {
    explicit NestingGuard(Parser& p) : parser(p) {
      if (++parser.nesting_ > kMaxNesting) {
        --parser.nesting_;
        parser.fail_at(parser.line(), fmt::format("template nests deeper than {} levels", kMaxNesting));
      }
    }
    ~NestingGuard() { --parser.nesting_; }
    Parser& parser;
  };

  ExprPtr parse_expression() {
    NestingGuard guard(*this);
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      const int if_line = line();
      next();
      auto cond = make(ExprKind::kConditional, if_line);
      cond->target = std::move(expr);
      cond->right = parse_or();
      if (skip_name("else")) cond->other = parse_expression();
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      auto node = make(ExprKind::kOr, line());
      next();
      node->target = std::move(left);
      node->right = parse_and();
      left = std::move(node);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      auto node = make(ExprKind::kAnd, line());
      next();
      node->target = std::move(left);
      node->right = parse_not();
      left = std::move(node);
    }
    return left;
  }

  ExprPtr parse_not() {
    NestingGuard guard(*this);
    if (is_name("not")) {
      auto node = make(ExprKind::kNot, line());
      next();
      node->target = parse_not();
      return node;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int start_line = line();
    ExprPtr first = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    while (true) {
      std::string op;
      if (current().type == TokenType::kOperator &&
          (current().value == "==" || current().value == "!=" || current().value == "<" || current().value == ">" ||
           current().value == "<=" || current().value == ">=")) {
        op = current().value;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().type == TokenType::kName && peek().value == "in") {
        op = "not in";
        next();
        next();
      } else {
        break;
      }
      ops.push_back(op);
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto node = make(ExprKind::kCompare, start_line);
    node->args.push_back(std::move(first));
    for (auto& o : operands) node->args.push_back(std::move(o));
    node->ops = std::move(ops);
    return node;
  }

  ExprPtr binary(std::string op, ExprPtr left, ExprPtr right, int at) {
    auto node = make(ExprKind::kBinary, at);
    node->name = std::move(op);
    node->target = std::move(left);
    node->right = std::move(right);
    return node;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = current().value;
      const int at = line();
      next();
      left = binary(op, std::move(left), parse_concat(), at);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const int at = line();
      next();
      left = binary("~", std::move(left), parse_math2(), at);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = current().value;
      const int at = line();
      next();
      left = binary(op, std::move(left), parse_pow(), at);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const int at = line();
      next();
      left = binary("**", std::move(left), parse_unary(true), at);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    NestingGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      node = make(is_op("-") ? ExprKind::kNegate : ExprKind::kPlus, line());
      next();
      node->target = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = current();
    const int at = t.line;
    if (t.type == TokenType::kName) {
      auto node = make(ExprKind::kLiteral, at);
      if (t.value == "true" || t.value == "True") {
        node->literal = Value::boolean(true);
      } else if (t.value == "false" || t.value == "False") {
        node->literal = Value::boolean(false);
      } else if (t.value == "none" || t.value == "None") {
        node->literal = Value::none();
      } else {
        node->kind = ExprKind::kName;
        node->name = t.value;
      }
      next();
      return node;
    }
    if (t.type == TokenType::kString) {
      std::string text;
      while (current().type == TokenType::kString) {  // adjacent literals concatenate
        text += current().value;
        next();
      }
      auto node = make(ExprKind::kLiteral, at);
      node->literal = Value::string(std::move(text));
      return node;
    }
    if (t.type == TokenType::kInteger) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(t.value.data(), t.value.data() + t.value.size(), v);
      if (ec != std::errc()) fail_at(at, fmt::format("integer literal {} is outside the 64-bit range", t.value));
      (void)ptr;
      auto node = make(ExprKind::kLiteral, at);
      node->literal = Value::integer(v);
      next();
      return node;
    }
    if (t.type == TokenType::kFloat) {
      auto node = make(ExprKind::kLiteral, at);
      node->literal = Value::floating(std::strtod(t.value.c_str(), nullptr));
      next();
      return node;
    }
    if (skip_op("(")) {
      if (skip_op(")")) return make(ExprKind::kTuple, at);
      ExprPtr first = parse_expression();
      if (skip_op(")")) return first;
      auto tuple = make(ExprKind::kTuple, at);
      tuple->args.push_back(std::move(first));
      while (skip_op(",")) {
        if (is_op(")")) break;
        tuple->args.push_back(parse_expression());
      }
      expect_op(")");
      return tuple;
    }
    if (skip_op("[")) {
      auto list = make(ExprKind::kList, at);
      while (!skip_op("]")) {
        if (!list->args.empty()) expect_op(",");
        if (skip_op("]")) break;
        list->args.push_back(parse_expression());
      }
      return list;
    }
    if (skip_op("{")) {
      auto dict = make(ExprKind::kDict, at);
      while (!skip_op("}")) {
        if (!dict->args.empty()) expect_op(",");
        if (skip_op("}")) break;
        dict->args.push_back(parse_expression());
        expect_op(":");
        dict->args.push_back(parse_expression());
      }
      return dict;
    }
    fail_here("expected an expression");
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      const int at = line();
      if (skip_op(".")) {
        auto attr = make(ExprKind::kGetAttr, at);
        if (current().type == TokenType::kName || current().type == TokenType::kInteger) {
          attr->name = current().value;
          attr->negated = current().type == TokenType::kInteger;  // integer index (`items.0`)
          next();
        } else {
          fail_here("expected an attribute name after '.'");
        }
        attr->target = std::move(node);
        node = std::move(attr);
      } else if (skip_op("[")) {
        node = parse_subscript(std::move(node), at);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr target, int at) {
    ExprPtr parts[3];
    bool is_slice = false;
    int part = 0;
    while (!is_op("]")) {
      if (skip_op(":")) {
        is_slice = true;
        if (++part > 2) fail_here("too many ':' in a slice");
        continue;
      }
      if (parts[part]) fail_here("expected ':' or ']' in a subscript");
      parts[part] = parse_expression();
      if (!is_slice && is_op(",")) fail_here("tuple subscripts are not supported");
    }
    next();
    if (!is_slice) {
      if (!parts[0]) fail_at(at, "empty subscript '[]'");
      auto item = make(ExprKind::kGetItem, at);
      item->target = std::move(target);
      item->right = std::move(parts[0]);
      return item;
    }
    auto slice = make(ExprKind::kSlice, at);
    slice->target = std::move(target);
    slice->start = std::move(parts[0]);
    slice->stop = std::move(parts[1]);
    slice->step = std::move(parts[2]);
    return slice;
  }

  void parse_call_args(Expr& node) {
    expect_op("(");
    while (!skip_op(")")) {
      if (!node.args.empty() || !node.kwargs.empty() || node.dyn_args || node.dyn_kwargs) {
        expect_op(",");
        if (skip_op(")")) break;
      }
      if (skip_op("*")) {
        if (node.dyn_args) fail_here("only one *arguments is allowed in a call");
        node.dyn_args = parse_expression();
        continue;
      }
      if (skip_op("**")) {
        if (node.dyn_kwargs) fail_here("only one **keywords is allowed in a call");
        node.dyn_kwargs = parse_expression();
        continue;
      }
      if (current().type == TokenType::kName && peek().type == TokenType::kOperator && peek().value == "=") {
        std::string key = current().value;
        next();
        next();
        node.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!node.kwargs.empty()) fail_here("a positional argument follows a keyword argument");
        node.args.push_back(parse_expression());
      }
    }
  }

  ExprPtr parse_call(ExprPtr target) {
    auto call = make(ExprKind::kCall, line());
    call->target = std::move(target);
    parse_call_args(*call);
    return call;
  }

  ExprPtr parse_filter_call(ExprPtr target) {
    auto filter = make(ExprKind::kFilter, line());
    filter->name = expect_name();
    while (skip_op(".")) filter->name.append(".").append(expect_name());
    filter->target = std::move(target);
    if (is_op("(")) parse_call_args(*filter);
    return filter;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (skip_op("|")) {
        node = parse_filter_call(std::move(node));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_test(ExprPtr target) {
    auto test = make(ExprKind::kTest, line());
    next();  // 'is'
    if (skip_name("not")) test->negated = true;
    test->name = expect_name();
    while (skip_op(".")) test->name.append(".").append(expect_name());
    test->target = std::move(target);
    const auto type = current().type;
    if (is_op("(")) {
      parse_call_args(*test);
    } else if ((type == TokenType::kName || type == TokenType::kString || type == TokenType::kInteger ||
                type == TokenType::kFloat || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail_here("tests cannot be chained with 'is'");
      // One argument without parentheses: `x is divisibleby 3`, `x is sameas false`.
      test->args.push_back(parse_postfix(parse_primary()));
    }
    return test;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int nesting_ = 0;
};

}  // namespace

Body parse_template(std::string_view source) { return Parser(tokenize(source)).parse_all(); }

}  // namespace fp4::chat::jinja
