"""tiny-r1's synthetic data: reproducible, arithmetically right, and checked by a correct grader."""

from __future__ import annotations

import math
import os
import random
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "tiny_r1"))
import arithmetic_steps as steps  # noqa: E402
import chat_format  # noqa: E402
import problems  # noqa: E402


def _draw(seed: int, count: int, mixture: str = "phase1") -> list[problems.Problem]:
    rng = random.Random(seed)
    return [problems.sample_training_problem(rng, problems.MIXTURES[mixture]) for _ in range(count)]


def test_same_seed_gives_the_same_problems_and_another_seed_does_not():
    assert _draw(11, 300) == _draw(11, 300)
    assert _draw(11, 300, "phase2") == _draw(11, 300, "phase2")
    assert _draw(12, 300) != _draw(11, 300)
    assert problems.evaluation_set(5, 20) == problems.evaluation_set(5, 20)
    assert problems.evaluation_set(6, 20) != problems.evaluation_set(5, 20)
    families = {p.family for p in _draw(11, 2000)}
    assert families == set(problems.EVAL_FAMILIES) | {"chat"}


@pytest.mark.parametrize("seed", range(5))
def test_column_writers_match_python_integers(seed):
    rng = random.Random(seed)
    for _ in range(300):
        a, b = rng.randint(0, 10**6), rng.randint(0, 10**6)
        assert steps.long_addition(a, b)[1] == a + b
        hi, lo = max(a, b), min(a, b)
        assert steps.long_subtraction(hi, lo)[1] == hi - lo
        m = rng.randint(0, 99)
        assert steps.long_multiplication(a % 10000, m)[1] == (a % 10000) * m


def test_column_addition_trace_reads_like_the_contract():
    lines, result = steps.long_addition(4728, 395)
    assert result == 5123
    assert lines[1] == "Digits from the right: 8 2 7 4 | 5 9 3 0"
    assert lines[2:6] == ["8+5+0=13 -> digit 3, carry 1", "2+9+1=12 -> digit 2, carry 1",
                          "7+3+1=11 -> digit 1, carry 1", "4+0+1=05 -> digit 5, carry 0"]
    with pytest.raises(ValueError):
        steps.long_subtraction(3, 5)
    with pytest.raises(ValueError):
        steps.long_multiplication(12, 100)


def _numbers(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"-?\d+", text)]


def _independent_answer(p: problems.Problem) -> str:
    """The answer recomputed from the prompt text alone, without the generator's code."""
    q = p.prompt
    if p.family in ("add", "sub", "mul"):
        expr = re.search(r"(\d+) ([+\-×]) (\d+)", q)
        a, op, b = int(expr.group(1)), expr.group(2), int(expr.group(3))
        return str(a + b if op == "+" else a - b if op == "-" else a * b)
    if p.family == "linear":
        eq = re.search(r"(-?\d*)x ([+-]) (\d+) = (-?\d+)", q)
        a = int(eq.group(1)) if eq.group(1) not in ("", "-") else (1 if eq.group(1) == "" else -1)
        b = int(eq.group(3)) * (1 if eq.group(2) == "+" else -1)
        return str((int(eq.group(4)) - b) // a)
    if p.family == "quadratic":
        eq = re.search(r"(equation|이차방정식) (.*) = 0", q).group(2).replace(" ", "")
        coef = {2: 0, 1: 0, 0: 0}
        for sign, num, var in re.findall(r"([+-]?)(\d*)(x\^2|x)?", eq):
            if not num and not var:
                continue
            value = int(num) if num else 1
            coef[{"x^2": 2, "x": 1, "": 0}[var]] += -value if sign == "-" else value
        roots = sorted({r for r in range(-40, 41) if coef[2] * r * r + coef[1] * r + coef[0] == 0})
        return ", ".join(str(r) for r in roots)
    if p.family == "gcd_lcm":
        a, b = _numbers(q.split("\n")[-1] if p.language == "ko" else q)[:2]
        return str(math.gcd(a, b) if ("greatest" in q or "최대공약수" in q) else math.lcm(a, b))
    if p.family == "fibonacci":
        n = _numbers(q)[-1]
        x, y = 1, 1
        for _ in range(n - 1):
            x, y = y, x + y
        return str(x)
    if p.family == "series":
        body = q.split("\n")[-1] if p.language == "ko" else q
        if "..." in body or ("+" in body and "term" not in body and "항" not in body):
            values = _numbers(body.split("...")[0]) + (_numbers(body.split("...")[1]) if "..." in body else [])
            a, d, last = values[0], values[1] - values[0], values[-1]
            n = (last - a) // d + 1
        else:
            a, d, n = _numbers(body)[:3]
        return str(sum(a + k * d for k in range(n)))
    if p.family == "percent":
        nums = _numbers(q.split("\n")[-1] if p.language == "ko" else q)
        pct, base = (nums[0], nums[1]) if p.language == "en" else (nums[1], nums[0])
        return str(pct * base // 100)
    raise AssertionError(p.family)


@pytest.mark.parametrize("family", problems.MATH_FAMILIES)
def test_every_answer_agrees_with_an_independent_computation(family):
    rng = random.Random(99)
    for _ in range(150):
        p = problems.make_problem(rng, family, rng.choice(["en", "ko"]))
        assert p.answer == _independent_answer(p), (p.prompt, p.answer)
        assert problems.extract_boxed(p.response) == p.answer
        assert problems.answer_is_correct(family, p.response, p.answer)


def test_choice_problems_box_the_letter_of_the_right_option():
    rng = random.Random(3)
    for _ in range(200):
        p = problems.make_problem(rng, "choice", rng.choice(["en", "ko"]))
        options = dict(re.findall(r"^([A-J])\. (.+)$", p.prompt, flags=re.M))
        assert sorted(options) == list("ABCDEFGHIJ")
        assert len(set(options.values())) == 10, "options must be distinct"
        value = re.search(r"The value (.+) is option ([A-J])\.$", p.reasoning)
        assert value.group(2) == p.answer and options[p.answer] == value.group(1)
        assert problems.extract_boxed(p.response) == p.answer


def test_choice_reasoning_restates_and_compares_every_option():
    rng = random.Random(4)
    for _ in range(200):
        p = problems.make_problem(rng, "choice", rng.choice(["en", "ko"]))
        options = re.findall(r"^([A-J])\. (.+)$", p.prompt, flags=re.M)           # [(letter, value)] in order
        lines = p.reasoning.split("\n")
        value = re.search(r"The value (.+) is option ([A-J])\.$", p.reasoning).group(1)
        start = lines.index(f"Compare {value} with the options in order.")
        scanned = lines[start + 1: -1]
        assert len(scanned) == 10, "one line per option, all ten"
        for (letter, option), line in zip(options, scanned):
            verdict = "yes" if option == value else "no"
            assert line == f"{letter}. {option}: {verdict}"                  # the prompt's line, verbatim
        assert [line.endswith(": yes") for line in scanned].count(True) == 1
        assert scanned["ABCDEFGHIJ".index(p.answer)].endswith(": yes")


@pytest.mark.parametrize("phase", ["phase4", "phase5"])
def test_choice_phase_mixtures_weight_every_family_and_favour_multiple_choice(phase):
    weights = problems.MIXTURES[phase]
    assert set(weights) == set(problems.EVAL_FAMILIES) | {"chat"}
    assert all(w > 0 for w in weights.values())
    assert max(weights, key=weights.get) == "choice"


def test_answer_checker_on_known_cases():
    ok = problems.answer_is_correct
    assert ok("add", "so \\boxed{5123}.", "5123")
    assert not ok("add", "\\boxed{5124}", "5123")
    assert ok("add", "first \\boxed{1} then \\boxed{5123}", "5123")      # the last box counts
    assert not ok("add", "no box at all: 5123", "5123")
    assert ok("linear", "\\boxed{x = -5}", "-5")
    assert ok("sub", "\\boxed{−7}", "-7")                               # a Unicode minus
    assert ok("quadratic", "\\boxed{5, -2}", "-2, 5")                   # roots in any order
    assert ok("quadratic", "\\boxed{x = -2 or x = 5}", "-2, 5")
    assert not ok("quadratic", "\\boxed{-2}", "-2, 5")
    assert ok("choice", "The answer is \\boxed{C}.", "C")
    assert ok("choice", "\\boxed{\\text{c}}", "C")
    assert not ok("choice", "\\boxed{D}", "C")
    assert not ok("add", "\\boxed{12, 13}", "12")
    assert problems.extract_boxed("\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert problems.extract_boxed("\\boxed{unclosed") is None


def test_training_sequences_follow_the_chat_format():
    rng = random.Random(4)
    p = problems.make_problem(rng, "add", "en")
    context, target = chat_format.training_pieces(p.prompt, p.reasoning, p.response)
    assert context == f"{chat_format.BOS}<｜User｜>{p.prompt}<｜Assistant｜>"
    assert target.startswith("<think>\n") and target.endswith("<｜end▁of▁sentence｜>")
    assert "\n</think>\n\n" in target
    assert chat_format.render_prompt(p.prompt) + target[len("<think>\n"):] == context + target


def test_unknown_family_or_language_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="unknown family"):
        problems.make_problem(random.Random(0), "calculus", "en")
    with pytest.raises(ValueError, match="language"):
        problems.make_problem(random.Random(0), "add", "fr")
