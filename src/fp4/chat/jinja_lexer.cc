#include "fp4/chat/jinja_lexer.h"

#include <fmt/format.h>

#include "fp4/chat/jinja_value.h"
#include "fp4/chat/unicode_text.h"

namespace fp4::chat::jinja {

namespace {

bool is_space_byte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Jinja decodes string literals with Python's "unicode-escape" codec: \n, \t, \\, \', \", \xhh, \uXXXX,
// \UXXXXXXXX, octal \ooo, \a \b \f \v \r, a backslash-newline continuation; other escapes stay as written.
std::string decode_string_literal(std::string_view body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out.push_back(c);
      continue;
    }
    const char e = body[++i];
    auto hex = [&](size_t count) -> char32_t {
      char32_t v = 0;
      for (size_t k = 1; k <= count; ++k) {
        if (i + k >= body.size()) throw RenderError("truncated \\x, \\u or \\U escape in a string literal", line);
        const char h = body[i + k];
        int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
        if (d < 0) throw RenderError("malformed \\x, \\u or \\U escape in a string literal", line);
        v = v * 16 + static_cast<char32_t>(d);
      }
      i += count;
      return v;
    };
    switch (e) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'v': out.push_back('\v'); break;
      case '\n': break;
      case 'x': unicode::append_utf8(hex(2), out); break;
      case 'u': unicode::append_utf8(hex(4), out); break;
      case 'U': {
        const char32_t cp = hex(8);
        if (cp > 0x10FFFF) throw RenderError("\\U escape beyond U+10FFFF in a string literal", line);
        unicode::append_utf8(cp, out);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          char32_t v = static_cast<char32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k) {
            v = v * 8 + static_cast<char32_t>(body[++i] - '0');
          }
          unicode::append_utf8(v, out);
        } else {
          out.push_back('\\');
          out.push_back(e);
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view raw) {
    // Jinja splits the source into lines and joins them with "\n": \r\n and \r become \n, and a final
    // newline is dropped because keep_trailing_newline is false.
    source_.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\r') {
        source_.push_back('\n');
        if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
      } else {
        source_.push_back(raw[i]);
      }
    }
    if (!source_.empty() && source_.back() == '\n') source_.pop_back();
  }

  std::vector<Token> run() {
    bool line_starting = true;  // the previous match ended a line (Jinja's lstrip_blocks condition)
    while (pos_ < source_.size()) {
      const size_t open = find_tag_open(pos_);
      std::string text = source_.substr(pos_, open - pos_);
      if (open == source_.size()) {
        emit_text(std::move(text));
        pos_ = open;
        break;
      }
      const char kind = source_[open + 1];  // '{', '%' or '#'
      char sign = 0;
      if (open + 2 < source_.size() && (source_[open + 2] == '-' || source_[open + 2] == '+')) sign = source_[open + 2];
      if (sign == '-') {
        size_t end = text.size();
        while (end > 0 && is_space_byte(text[end - 1])) --end;
        text.resize(end);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: drop spaces and tabs between the start of the line and a block or comment tag.
        const size_t line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        if (line_start > 0 || line_starting) {
          bool only_space = line_start < text.size();
          for (size_t i = line_start; i < text.size() && only_space; ++i) only_space = is_space_byte(text[i]);
          if (only_space) text.resize(line_start);
        }
      }
      advance_lines(pos_, open);
      emit_text(std::move(text));
      pos_ = open + 2 + (sign != 0 ? 1 : 0);
      if (kind == '#') {
        line_starting = skip_comment();
      } else if (kind == '%' && try_raw_block(line_starting)) {
        // consumed the whole raw block
      } else {
        line_starting = lex_tag(kind == '{');
      }
    }
    tokens_.push_back({TokenType::kEnd, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag_open(size_t from) const {
    for (size_t i = from; i + 1 < source_.size(); ++i) {
      if (source_[i] == '{' && (source_[i + 1] == '{' || source_[i + 1] == '%' || source_[i + 1] == '#')) return i;
    }
    return source_.size();
  }

  void advance_lines(size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      if (source_[i] == '\n') ++line_;
    }
  }

  void emit_text(std::string text) {
    if (!text.empty()) tokens_.push_back({TokenType::kText, std::move(text), text_line_});
    text_line_ = line_;
  }

  // After a closing `-%}`-style marker all whitespace is skipped; after a plain `%}` or `#}` one newline is
  // (trim_blocks); `+%}` keeps it. Returns whether the consumed text ended with a newline.
  bool consume_close_whitespace(char sign, bool trim_newline) {
    if (sign == '-') {
      const size_t start = pos_;
      while (pos_ < source_.size() && is_space_byte(source_[pos_])) ++pos_;
      advance_lines(start, pos_);
      return pos_ > start && source_[pos_ - 1] == '\n';
    }
    if (sign == 0 && trim_newline && pos_ < source_.size() && source_[pos_] == '\n') {
      ++pos_;
      ++line_;
      return true;
    }
    return false;
  }

  bool skip_comment() {
    const int start_line = line_;
    for (size_t i = pos_; i + 1 < source_.size(); ++i) {
      if (source_[i] == '#' && source_[i + 1] == '}') {
        char sign = 0;
        if (i > pos_ && (source_[i - 1] == '-' || source_[i - 1] == '+')) sign = source_[i - 1];
        advance_lines(pos_, i + 2);
        pos_ = i + 2;
        text_line_ = line_;
        return consume_close_whitespace(sign, true);
      }
    }
    throw RenderError("comment opened with {# is never closed", start_line);
  }

  // {% raw %}...{% endraw %}: the content is literal text.
  bool try_raw_block(bool& line_starting) {
    size_t p = pos_;
    while (p < source_.size() && is_space_byte(source_[p])) ++p;
    if (source_.compare(p, 3, "raw") != 0 || (p + 3 < source_.size() && is_name_char(source_[p + 3]))) return false;
    p += 3;
    while (p < source_.size() && is_space_byte(source_[p])) ++p;
    char sign = 0;
    if (p < source_.size() && (source_[p] == '-' || source_[p] == '+')) sign = source_[p++];
    if (source_.compare(p, 2, "%}") != 0) return false;
    advance_lines(pos_, p + 2);
    pos_ = p + 2;
    consume_close_whitespace(sign == '-' ? '-' : '+', false);
    // Find {%[-+]? endraw [-+]?%}
    for (size_t i = pos_; i + 1 < source_.size(); ++i) {
      if (source_[i] != '{' || source_[i + 1] != '%') continue;
      size_t q = i + 2;
      char end_open_sign = 0;
      if (q < source_.size() && (source_[q] == '-' || source_[q] == '+')) end_open_sign = source_[q++];
      while (q < source_.size() && is_space_byte(source_[q])) ++q;
      if (source_.compare(q, 6, "endraw") != 0) continue;
      q += 6;
      while (q < source_.size() && is_space_byte(source_[q])) ++q;
      char end_sign = 0;
      if (q < source_.size() && (source_[q] == '-' || source_[q] == '+')) end_sign = source_[q++];
      if (source_.compare(q, 2, "%}") != 0) continue;
      std::string text = source_.substr(pos_, i - pos_);
      if (end_open_sign == '-') {
        while (!text.empty() && is_space_byte(text.back())) text.pop_back();
      }
      advance_lines(pos_, q + 2);
      tokens_.push_back({TokenType::kText, std::move(text), text_line_});
      pos_ = q + 2;
      text_line_ = line_;
      line_starting = consume_close_whitespace(end_sign, true);
      text_line_ = line_;
      return true;
    }
    throw RenderError("{% raw %} is never closed with {% endraw %}", line_);
  }

  // Lexes the inside of {{ ... }} or {% ... %} up to its closing marker, which counts only outside
  // brackets (so `{{ {'a': {'b': 1}} }}` works). Returns whether the close consumed a newline.
  bool lex_tag(bool is_variable) {
    tokens_.push_back({is_variable ? TokenType::kVariableBegin : TokenType::kBlockBegin, "", line_});
    const int start_line = line_;
    std::vector<char> brackets;
    while (true) {
      while (pos_ < source_.size() && is_space_byte(source_[pos_])) {
        if (source_[pos_] == '\n') ++line_;
        ++pos_;
      }
      if (pos_ >= source_.size()) {
        throw RenderError(fmt::format("tag opened with {} is never closed", is_variable ? "{{" : "{%"), start_line);
      }
      if (brackets.empty()) {
        const std::string_view close = is_variable ? "}}" : "%}";
        char sign = 0;
        size_t at = pos_;
        if (source_[at] == '-' || source_[at] == '+') sign = source_[at++];
        if (source_.compare(at, 2, close) == 0 && !(is_variable && sign == '+')) {
          pos_ = at + 2;
          tokens_.push_back({is_variable ? TokenType::kVariableEnd : TokenType::kBlockEnd, "", line_});
          const bool ended_line = consume_close_whitespace(sign, !is_variable);
          text_line_ = line_;
          return ended_line;
        }
      }
      const char c = source_[pos_];
      if (c == '\'' || c == '"') {
        lex_string(c);
      } else if (is_digit(c)) {
        lex_number();
      } else if (is_name_start(c)) {
        const size_t start = pos_;
        while (pos_ < source_.size() && is_name_char(source_[pos_])) ++pos_;
        tokens_.push_back({TokenType::kName, source_.substr(start, pos_ - start), line_});
      } else {
        lex_operator(brackets);
      }
    }
  }

  void lex_string(char quote) {
    const int start_line = line_;
    size_t i = pos_ + 1;
    while (i < source_.size() && source_[i] != quote) {
      if (source_[i] == '\\') ++i;
      ++i;
    }
    if (i >= source_.size()) throw RenderError("string literal is never closed", start_line);
    const std::string_view body(source_.data() + pos_ + 1, i - pos_ - 1);
    tokens_.push_back({TokenType::kString, decode_string_literal(body, start_line), start_line});
    advance_lines(pos_, i + 1);
    pos_ = i + 1;
  }

  void lex_number() {
    auto digits = [&](size_t p) {  // (\d+_)*\d+
      size_t q = p;
      while (q < source_.size() && (is_digit(source_[q]) || (source_[q] == '_' && q + 1 < source_.size() && is_digit(source_[q + 1]) && q > p))) ++q;
      return q;
    };
    const size_t start = pos_;
    size_t p = digits(pos_);
    bool is_float = false;
    // A float needs digits after the dot (so `items.0.1` stays attribute access) or an exponent; a
    // number right after a '.' token is an attribute index and never a float.
    const bool after_dot = !tokens_.empty() && tokens_.back().type == TokenType::kOperator && tokens_.back().value == ".";
    if (!after_dot && p + 1 < source_.size() && source_[p] == '.' && is_digit(source_[p + 1])) {
      p = digits(p + 1);
      is_float = true;
    }
    if (!after_dot && p < source_.size() && (source_[p] == 'e' || source_[p] == 'E')) {
      size_t q = p + 1;
      if (q < source_.size() && (source_[q] == '+' || source_[q] == '-')) ++q;
      if (q < source_.size() && is_digit(source_[q])) {
        p = digits(q);
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = start; i < p; ++i) {
      if (source_[i] != '_') text.push_back(source_[i]);
    }
    pos_ = p;
    tokens_.push_back({is_float ? TokenType::kFloat : TokenType::kInteger, std::move(text), line_});
  }

  void lex_operator(std::vector<char>& brackets) {
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (auto op : kTwo) {
      if (source_.compare(pos_, 2, op) == 0) {
        tokens_.push_back({TokenType::kOperator, std::string(op), line_});
        pos_ += 2;
        return;
      }
    }
    const char c = source_[pos_];
    static constexpr std::string_view kOne = "+-/*%~[](){}><=.:|,;";
    if (kOne.find(c) == std::string_view::npos) {
      throw RenderError(fmt::format("unexpected character '{}' inside a tag", source_.substr(pos_, 1)), line_);
    }
    if (c == '(' || c == '[' || c == '{') {
      brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty() || brackets.back() != c) {
        throw RenderError(fmt::format("unexpected '{}' inside a tag", c), line_);
      }
      brackets.pop_back();
    }
    tokens_.push_back({TokenType::kOperator, std::string(1, c), line_});
    ++pos_;
  }

  std::string source_;
  size_t pos_ = 0;
  int line_ = 1;
  int text_line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

const char* token_type_name(TokenType type) {
  switch (type) {
    case TokenType::kText: return "text";
    case TokenType::kVariableBegin: return "'{{'";
    case TokenType::kVariableEnd: return "'}}'";
    case TokenType::kBlockBegin: return "'{%'";
    case TokenType::kBlockEnd: return "'%}'";
    case TokenType::kName: return "name";
    case TokenType::kString: return "string";
    case TokenType::kInteger: return "integer";
    case TokenType::kFloat: return "float";
    case TokenType::kOperator: return "operator";
    case TokenType::kEnd: return "end of template";
  }
  return "token";
}

}  // namespace fp4::chat::jinja
