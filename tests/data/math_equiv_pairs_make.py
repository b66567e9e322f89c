"""Writes tests/data/math_equiv_pairs.jsonl: (reference, predicted) answer pairs for the math-verify agreement
test, about half equal and half not, in the notations model answers use.

Each line: {"reference": ..., "predicted": ..., "category": ...}. The verdicts are not stored: the test asks
math-verify for them at run time and compares with `fp4serve eval --math-equal`.

    python3 tests/data/math_equiv_pairs_make.py      # rewrites the file (seeded; the output is stable)
"""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction
from pathlib import Path

OUT = Path(__file__).with_name("math_equiv_pairs.jsonl")


def frac_forms(f: Fraction, rng: random.Random) -> list[str]:
    """Ways to write a rational number."""
    n, d = f.numerator, f.denominator
    sign = "-" if n < 0 else ""
    a = abs(n)
    if d == 1:
        return [str(n), f"{n}.0", f"\\frac{{{n * 2}}}{{2}}", f"{n}.00"]
    forms = [f"{sign}\\frac{{{a}}}{{{d}}}", f"{sign}\\dfrac{{{a}}}{{{d}}}", f"{n}/{d}", f"\\frac{{{n}}}{{{d}}}",
             f"{sign}\\tfrac{{{a}}}{{{d}}}", f"{sign}\\frac{{{a * 3}}}{{{d * 3}}}"]
    if a < 10 and d < 10:
        forms.append(f"{sign}\\frac{a}{d}")
    # Terminating decimals, and 7-digit roundings of the others (both equal at 6 decimals).
    dd = d
    while dd % 2 == 0:
        dd //= 2
    while dd % 5 == 0:
        dd //= 5
    if dd == 1:
        forms.append(f"{float(f):.10g}")
    else:
        forms.append(f"{float(f):.7f}")
    return forms


def rational_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(70):
        f = Fraction(rng.randint(-60, 60) or 1, rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 20, 25]))
        forms = frac_forms(f, rng)
        a, b = rng.sample(forms, 2)
        out.append((a, b, "rational-equal"))
        # A near miss: off by one in the numerator, or a 3-digit rounding.
        g = f + Fraction(1, f.denominator) if rng.random() < 0.5 else f * 2
        out.append((rng.choice(forms), rng.choice(frac_forms(g, rng)), "rational-unequal"))
        if f.denominator not in (1, 2, 4, 5, 8, 10, 16, 20, 25):
            out.append((forms[0], f"{float(f):.3f}", "rational-rounded-unequal"))
    return out


def integer_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    units = ["\\text{ cm}", "\\text{ dollars}", " \\text{meters}", "\\text{ units}", "^\\circ", "^{\\circ}", "\\%"]
    for _ in range(40):
        n = rng.randint(0, 999)
        u = rng.choice(units)
        if u == "\\%":
            out.append((f"{n}\\%", str(n), "percent-integer"))
        else:
            out.append((f"{n}{u}", str(n), "integer-units"))
        out.append((str(n), f"{n + rng.randint(1, 9)}", "integer-unequal"))
    for _ in range(20):
        n = rng.randint(1000, 9_999_999)
        out.append((f"{n:,}", str(n), "integer-thousands"))
        out.append((f"\\${n}", str(n), "integer-dollar"))
        out.append((str(n), str(n - rng.randint(1, 999)), "integer-unequal"))
    for i in range(10):
        n = rng.randint(1, 500)
        if i < 3:  # a period inside the box is rare in model answers
            out.append((f"{n}", f"{n}.", "integer-period"))
        out.append((f"{n}", f"{-n}", "integer-sign"))
    return out


def percent_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(20):
        p = rng.randint(1, 99)
        out.append((f"{p}\\%", f"{p / 100:g}", "percent-decimal"))
        out.append((f"{p}\\%", str(Fraction(p, 100)).replace("/", "/"), "percent-fraction"))
        out.append((f"{p}\\%", f"{(p + 1) / 100:g}", "percent-unequal"))
    return out


def root_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(30):
        k = rng.randint(2, 9)
        m = rng.choice([2, 3, 5, 6, 7, 10, 11])
        v = k * math.sqrt(m)
        out.append((f"{k}\\sqrt{{{m}}}", f"\\sqrt{{{k * k * m}}}", "root-equal"))
        out.append((f"{k}\\sqrt{{{m}}}", f"{v:.6f}", "root-decimal-equal"))
        out.append((f"{k}\\sqrt{{{m}}}", f"{v:.2f}", "root-decimal-unequal"))
        out.append((f"{k}\\sqrt{{{m}}}", f"{k + 1}\\sqrt{{{m}}}", "root-unequal"))
        out.append((f"\\frac{{\\sqrt{{{m}}}}}{{{k}}}", f"\\sqrt{{{m}}}/{k}", "root-fraction-equal"))
    for n in [4, 9, 16, 25, 36, 49, 64, 81, 100, 121]:
        out.append((f"\\sqrt{{{n}}}", str(int(math.isqrt(n))), "root-perfect-square"))
    return out


def pi_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(20):
        k = rng.randint(2, 12)
        out.append((f"{k}\\pi", f"{k * math.pi:.6f}", "pi-decimal-equal"))
        out.append((f"{k}\\pi", f"{k * math.pi:.2f}", "pi-decimal-unequal"))
        out.append((f"\\frac{{\\pi}}{{{k}}}", f"\\pi/{k}", "pi-fraction-equal"))
        out.append((f"{k}\\pi", f"{k + 1}\\pi", "pi-unequal"))
    return out


def collection_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(25):
        xs = rng.sample(range(-20, 21), rng.randint(2, 4))
        ys = xs[:]
        rng.shuffle(ys)
        j = lambda v: ", ".join(str(x) for x in v)  # noqa: E731
        out.append((f"\\{{{j(xs)}\\}}", f"\\{{{j(ys)}\\}}", "set-permuted"))
        out.append((j(xs), j(ys), "list-permuted"))
        zs = xs[:-1] + [xs[-1] + 1]
        out.append((f"\\{{{j(xs)}\\}}", f"\\{{{j(zs)}\\}}", "set-unequal"))
        out.append((f"({j(xs + [xs[0] + 100])})", f"({j(xs + [xs[0] + 100])})", "tuple-equal"))
        if xs != ys:
            out.append((f"({j(xs + [99])})", f"({j(ys + [99])})", "tuple-reordered-unequal"))
    for _ in range(25):
        a, b = sorted(rng.sample(range(-30, 31), 2))
        lo, hi = rng.choice(["[", "("]), rng.choice(["]", ")"])
        out.append((f"{lo}{a},{b}{hi}", f"\\left{lo}{a}, {b}\\right{hi}", "interval-equal"))
        other_hi = "]" if hi == ")" else ")"
        out.append((f"{lo}{a},{b}{hi}", f"{lo}{a},{b}{other_hi}", "interval-bracket-unequal"))
        out.append((f"[{a}, \\infty)", f"[{a},\\infty)", "interval-infinity"))
        out.append((f"(-\\infty, {b}]", f"(-\\infty, {b})", "interval-infinity-unequal"))
    return out


def pm_equation_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(15):
        a, m = rng.randint(1, 9), rng.choice([2, 3, 5, 7])
        out.append((f"{a} \\pm \\sqrt{{{m}}}", f"{a}+\\sqrt{{{m}}}, {a}-\\sqrt{{{m}}}", "pm-equal"))
        out.append((f"\\pm {a}", f"{a}, -{a}", "pm-equal"))
        out.append((f"{a} \\pm \\sqrt{{{m}}}", f"{a}+\\sqrt{{{m}}}", "pm-unequal"))
        x = rng.randint(-20, 20)
        out.append((f"x = {x}", str(x), "equation-rhs"))
        out.append((str(x), f"x={x}", "equation-pred"))
        out.append((f"x = {x}", f"x = {x + 1}", "equation-unequal"))
    return out


def expression_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(20):
        r, s = rng.randint(-9, 9), rng.randint(-9, 9)
        b, c = -(r + s), r * s
        expanded = f"x^2{'+' if b >= 0 else '-'}{abs(b)}x{'+' if c >= 0 else '-'}{abs(c)}"
        factored = f"(x{'-' if r >= 0 else '+'}{abs(r)})(x{'-' if s >= 0 else '+'}{abs(s)})"
        out.append((expanded, factored, "polynomial-factored"))
        out.append((expanded, f"x^2{'+' if b >= 0 else '-'}{abs(b)}x{'+' if c + 1 >= 0 else '-'}{abs(c + 1)}",
                    "polynomial-unequal"))
        k = rng.randint(2, 9)
        out.append((f"{k}x+{k * 2}", f"{k}(x+2)", "linear-factored"))
        out.append((f"\\frac{{x}}{{{k}}}", f"\\frac{{1}}{{{k}}}x", "linear-fraction"))
    return out


def text_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    letters = "ABCDE"
    for L in letters:
        out.append((f"\\text{{({L})}}", L, "choice-letter"))
        out.append((f"({L})", L, "choice-letter"))
        out.append((L, letters[(letters.index(L) + 1) % 5], "choice-unequal"))
        out.append((f"\\textbf{{{L}}}", L, "choice-bold"))
    for w, v in [("yes", "Yes"), ("no", "NO"), ("even", "Even"), ("odd", "odd"), ("Monday", "monday")]:
        out.append((f"\\text{{{w}}}", v, "word-equal"))
    for w, v in [("yes", "no"), ("even", "odd"), ("Monday", "Tuesday")]:
        out.append((f"\\text{{{w}}}", v, "word-unequal"))
    return out


def scientific_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(8):
        m, e = rng.randint(11, 99) / 10, rng.randint(2, 6)
        v = round(m * 10 ** e)
        out.append((f"{m}\\times 10^{{{e}}}", str(v), "scientific-equal"))
        out.append((f"{m} \\cdot 10^{e}", str(v * 10), "scientific-unequal"))
        out.append((f"10^{{-{e}}}", f"{10 ** -e:.{e}f}", "power-decimal"))
    return out


# Answers in the shapes MATH-500 references take, each against a correct and a wrong model answer.
HANDWRITTEN = [
    ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", "\\frac{\\sqrt{2}}{2}"),
    ("\\frac{14}{3}", "4\\frac{2}{3}", "\\frac{13}{3}"),
    ("(3, -1)", "\\left( 3, -1 \\right)", "(-1, 3)"),
    ("\\text{(C)}", "C", "D"),
    ("2\\sqrt{5}", "\\sqrt{20}", "\\sqrt{10}"),
    ("\\dfrac{9}{2}", "4.5", "4.05"),
    ("10\\%", "10", "1"),
    ("[-2, 7]", "[-2,7]", "(-2, 7)"),
    ("(-\\infty, -2) \\cup (3, \\infty)", "(-\\infty,-2)\\cup(3,\\infty)", "(-\\infty, -2]"),
    ("x^2+7x+10", "(x+2)(x+5)", "(x+2)(x+4)"),
    ("\\frac{1}{4}", "0.25", "0.4"),
    ("6", "6.0", "6.1"),
    ("-\\frac{1}{3}", "\\frac{-1}{3}", "\\frac{1}{3}"),
    ("\\$ 18.90", "18.9", "18.09"),
    ("4\\pi", "4 \\pi", "2\\pi"),
    ("\\frac{\\pi}{3}", "\\dfrac{\\pi}{3}", "\\frac{\\pi}{6}"),
    ("1, -2", "-2, 1", "1, 2"),
    ("\\{-3, 3\\}", "\\pm 3", "3"),
    ("5\\sqrt{2}", "\\sqrt{50}", "5\\sqrt{3}"),
    ("\\frac{7}{16}", "0.4375", "0.437"),
    ("2^{12}", "4096", "4095"),
    ("11\\sqrt{2}", "11 \\sqrt 2", "12\\sqrt{2}"),
    ("\\text{Devon}", "Devon", "Evan"),
    ("y = -\\frac{1}{2}x + 3", "-\\frac{1}{2}x+3", "-\\frac{1}{2}x-3"),
    ("135^\\circ", "135", "45"),
    ("\\sqrt{2}+1", "1+\\sqrt{2}", "\\sqrt{2}-1"),
    ("\\frac{3\\sqrt{3}}{4}", "\\frac{3}{4}\\sqrt{3}", "\\frac{3\\sqrt{2}}{4}"),
    ("0", "0.0", "-1"),
    ("100", "100.00", "1000"),
    ("\\frac{5}{9}", "0.5555556", "0.5556"),
]


def handwritten_pairs(rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for ref, right, wrong in HANDWRITTEN:
        out.append((ref, right, "math500-shape-equal"))
        out.append((ref, wrong, "math500-shape-unequal"))
    return out


def main() -> None:
    rng = random.Random(20261129)
    pairs = []
    for make in (rational_pairs, integer_pairs, percent_pairs, root_pairs, pi_pairs, collection_pairs,
                 pm_equation_pairs, expression_pairs, text_pairs, scientific_pairs, handwritten_pairs):
        pairs += make(rng)
    seen = set()
    with OUT.open("w", encoding="utf-8") as f:
        for ref, pred, cat in pairs:
            if (ref, pred) in seen:
                continue
            seen.add((ref, pred))
            f.write(json.dumps({"reference": ref, "predicted": pred, "category": cat}, ensure_ascii=False) + "\n")
    print(f"{len(seen)} pairs -> {OUT}")


if __name__ == "__main__":
    main()
