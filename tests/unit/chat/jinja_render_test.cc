// The interpreter on small templates: whitespace control, scoping, errors with line numbers and the
// work limits. Expected outputs are what Jinja 3.1 in transformers' chat-template environment prints.
#include <gtest/gtest.h>

#include <ctime>

#include "fp4/base/error.h"
#include "fp4/chat/jinja_template.h"

namespace fp4::chat::jinja {
namespace {

std::string render(std::string_view source, const Dict& variables = {}) {
  return Template(source, "test").render(variables);
}

std::string error_of(std::string_view source) {
  try {
    render(source);
  } catch (const fp4::Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(JinjaWhitespace, TrimBlocksAndLstripBlocks) {
  EXPECT_EQ(render("  {% if true %}\n  x\n  {% endif %}\n  y  \n"), "  x\n  y  ");
  EXPECT_EQ(render("a {{- ' b ' -}} c {#- c -#} d\n{%+ if true %}e{% endif +%}\nf"), "a b cd\ne\nf");
  EXPECT_EQ(render("{% for i in [1, 2] %}\n  - {{ i }}\n{% endfor %}\n"), "  - 1\n  - 2\n");
  EXPECT_EQ(render("{% raw %}{{ kept }}{% endraw %}"), "{{ kept }}");
  EXPECT_EQ(render("x\r\ny\r\n"), "x\ny");  // newlines normalized, the last one dropped
}

// An integer written as an attribute indexes (`x.1`); one past int64 is out of range, as in Python (found
// by fuzz_jinja: the conversion used to throw an exception nothing caught).
TEST(JinjaIndexing, IntegerAttributesIndexAndHugeOnesAreUndefined) {
  EXPECT_EQ(render("{{ [5, 6].1 }}"), "6");
  EXPECT_EQ(render("{{ [5, 6].99999999999999999999999999 is undefined }}"), "True");
  EXPECT_EQ(render("{{ [[1, 2]] | map(attribute='0.99999999999999999999999999') | list | length }}"), "1");
}

TEST(JinjaScoping, LoopBodiesDoNotLeakButNamespacesDo) {
  EXPECT_EQ(render("{% set x = 0 %}{% for i in [1,2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}|{{ x }}"), "0102|0");
  EXPECT_EQ(render("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"), "6");
  EXPECT_EQ(render("{% macro m(a, b=2) %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(b=5, a=0) }}"), "[12][05]");
}

TEST(JinjaExpressions, PythonSemantics) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 1 / 2 }} {{ 2 ** 10 }}"), "3 -4 2 0.5 1024");
  EXPECT_EQ(render("{{ 'abc'[::-1] }} {{ '한국어'[1:] }} {{ [1, 2, 3][-1] }}"), "cba 국어 3");
  EXPECT_EQ(render("{{ 'a' if false }}|{{ none }}|{{ 1 == 1.0 }}|{{ 'x' ~ 1 ~ none }}"), "|None|True|x1None");
  EXPECT_EQ(render("{{ '<think>r</think>ans'.split('</think>')[-1] }}"), "ans");
  EXPECT_EQ(render("{{ {'b': 1, 'a': '서울'} | tojson }}"), "{\"b\": 1, \"a\": \"서울\"}");
  EXPECT_EQ(render("{{ x is defined }} {{ x | default('d') }} {{ x | length }}"), "False d 0");
}

TEST(JinjaErrors, NameTheLineAndTheConstruct) {
  EXPECT_NE(error_of("a\nb\n{% include 'x.jinja' %}").find("line 3: unsupported construct '{% include %}'"),
            std::string::npos);
  EXPECT_NE(error_of("{{ x | nope }}").find("line 1: unsupported construct: no filter named 'nope'"),
            std::string::npos);
  EXPECT_NE(error_of("{% if true %}\n{{ (1 }}\n{% endif %}").find("line 2"), std::string::npos);
  EXPECT_NE(error_of("{% for x in y %}").find("template ended while looking for"), std::string::npos);
  EXPECT_NE(error_of("\n{{ raise_exception('bad role') }}").find("line 2: raise_exception: bad role"),
            std::string::npos);
  EXPECT_NE(error_of("{{ x.y }}").find("'x' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 + 'a' }}").find("unsupported operand type(s) for +: 'int' and 'str'"), std::string::npos);
  // An unknown filter inside an if that never runs is not an error, as in Jinja 3.
  EXPECT_EQ(render("{% if false %}{{ x | nope }}{% endif %}ok"), "ok");
}

TEST(JinjaLimits, HostileTemplatesFailInsteadOfHanging) {
  EXPECT_NE(error_of("{{ range(1000000) | length }}").find("Range too big"), std::string::npos);
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("recursion"), std::string::npos);
  EXPECT_NE(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
                .find("evaluation steps"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 1000000000 }}").find("too large"), std::string::npos);
}

TEST(JinjaGlobals, StrftimeNowUsesLocalTime) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char year[16];
  std::strftime(year, sizeof(year), "%Y", &local);
  EXPECT_EQ(render("{{ strftime_now('%Y') }}"), year);
}

}  // namespace
}  // namespace fp4::chat::jinja

namespace fp4::chat::jinja {
namespace {

TEST(JinjaBlocks, CallBlocksAndMarkup) {
  EXPECT_EQ(render("{% macro wrap(t) %}<{{ caller() }}|{{ t }}>{% endmacro %}{% call wrap('x') %}body{% endcall %}"),
            "<body|x>");
  EXPECT_EQ(render("{% macro m() %}{{ caller(1) }}{% endmacro %}{% call(v) m() %}[{{ v }}]{% endcall %}"), "[1]");
  EXPECT_EQ(render("{{ '<b>' | safe + '<i>' }} {{ '<x>' | e }} {{ ('a' | safe) ~ '<' }}"), "<b>&lt;i&gt; &lt;x&gt; a<");
}

TEST(JinjaLimits, NestingAndReferenceCyclesAreRejected) {
  EXPECT_NE(error_of("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}").find("nests deeper"), std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}")
                .find("nested deeper"),
            std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace() %}{% set ns.self = [ns] %}").find("cannot store a namespace"),
            std::string::npos);
  // A macro that outlives its loop iteration still works (its scope is kept until the render ends).
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in [1] %}{% macro m() %}{{ i }}{% endmacro %}"
                   "{% set ns.n = m() %}{% endfor %}{{ ns.n }}"),
            "1");
}

}  // namespace
}  // namespace fp4::chat::jinja
