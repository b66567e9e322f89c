"""tiny-r1's composite reasoning steps (signed sums, Euclid steps, checked divisions) since phase 3."""

from __future__ import annotations

import hashlib
import math
import os
import random
import re
import sys

import pytest
import tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "tiny_r1"))
import arithmetic_steps as steps  # noqa: E402
import chat_format  # noqa: E402
import problems  # noqa: E402


def test_signed_addition_matches_python_integers_on_a_grid():
    for x in range(-400, 401, 3):
        for y in range(-400, 401, 7):
            lines, result = steps.signed_addition(x, y)
            assert result == x + y
            assert lines[-1].endswith(f"= {x + y}.") or (len(lines) == 1 and lines[0].endswith(f"= {x + y}"))


def test_signed_addition_reduces_to_one_column_operation():
    lines, result = steps.signed_addition(-95, 53)
    assert result == -42
    assert lines == ["-95 + 53 = -(95 - 53)", "95 - 53 in columns:", "Digits from the right: 5 9 | 3 5",
                     "5-3-0=2 -> digit 2, borrow 0", "9-5-0=4 -> digit 4, borrow 0",
                     "Digits of the difference from the right: 2 4", "So -95 + 53 = -42."]
    assert steps.signed_addition(-7, 5) == (["-7 + 5 = -2"], -2)        # single digits: one line


def test_division_with_remainder_matches_divmod():
    for n in range(0, 401):
        for d in range(1, 401, 3):
            lines, q, r = steps.division_with_remainder(n, d)
            assert (q, r) == divmod(n, d)
            assert lines[-1].endswith(f"{n} = {q} * {d} + {r}.")
    with pytest.raises(ValueError):
        steps.division_with_remainder(5, 0)


def test_euclid_step_finds_the_remainder_in_columns():
    lines, q, r = steps.division_with_remainder(182, 98)
    assert (q, r) == (1, 84)
    assert lines[0] == "Divide 182 by 98: the quotient is 1."
    assert "182 - 98 in columns:" in lines                              # the remainder is not guessed
    assert lines[-1] == "84 is less than 98, so 182 = 1 * 98 + 84."


def test_exact_division_checks_the_quotient_with_a_product():
    for d in [k for k in range(-12, 13) if k]:
        for x in range(-20, 21):
            lines, q = steps.exact_division(d * x, d)
            assert q == x
    lines, q = steps.exact_division(-42, 3)
    assert q == -14
    assert lines[0] == "-42 / 3: the signs differ, so the result is -(42 / 3)."
    assert "14 * 3 = 42" in lines
    with pytest.raises(ValueError):
        steps.exact_division(7, 2)


def _one_step_results(reasoning: str) -> list[str]:
    """Lines that state a result of two operands of two or more digits without column work.

    Column work ends in a conclusion: a line starting with "So ", a clause after ", so ", or a
    product line "A * B = C" right after a column line, a shift, or the same product."""
    bad = []
    lines = reasoning.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("So "):
            continue
        claim = line.split(", so ")[0]
        product = re.fullmatch(r"(\d+) \* (\d+) = (\d+)", claim)
        if product:
            if int(product.group(1)) >= 10 and int(product.group(2)) >= 10:
                previous = lines[i - 1] if i else ""
                restated = re.fullmatch(r"\d+ \* \d+ = " + product.group(3), previous)
                if not ("-> digit" in previous or previous.startswith(("Digits of the sum", "Shift "))
                        or restated):
                    bad.append(line)
            continue
        # Overlapping matches (a lookahead), so "a + (n - 1) * d = 35 + 36 = 71" finds "35 + 36 = 71".
        statement = (r"(?<![\d*])(?=\(?(-?\d+)\)? ([+\-/*]) \(?(-?\d+)\)? = \(?(-?\d+)\)?"
                     r"(?:\.?$|,| [+\-/*] \d+ =|\.))")
        for m in re.finditer(statement, claim):
            a, b = abs(int(m.group(1))), abs(int(m.group(3)))
            if a >= 10 and b >= 10 and not (a == b and m.group(4) == "0"):
                bad.append(line)
        euclid = re.search(r"(\d+) = (\d+) \* (\d+) \+ (\d+)", claim)
        if euclid and int(euclid.group(1)) >= 10 and int(euclid.group(3)) >= 10:
            bad.append(line)
    return bad


def test_the_one_step_detector_flags_the_old_single_line_forms():
    assert _one_step_results("Add 53 to both sides: 3x = -95 + 53 = -42.")
    assert _one_step_results("Divide both sides by -11: x = -88 / (-11) = 8.")
    assert _one_step_results("182 = 1 * 98 + 84")
    assert _one_step_results("Last term: 13 + (6 - 1) * 6 = 13 + 30 = 43.")
    assert _one_step_results("Multiply 70 by 22.\n70 * 22 = 1540")
    assert not _one_step_results("84 is less than 98, so 182 = 1 * 98 + 84.")
    assert not _one_step_results("-95 + 53 = -(95 - 53)")


@pytest.mark.parametrize("family", ["linear", "gcd_lcm", "series"])
def test_multi_digit_operations_are_never_stated_in_one_step(family):
    rng = random.Random(17)
    for _ in range(300):
        p = problems.make_problem(rng, family, "en")
        assert not _one_step_results(p.reasoning), p.reasoning


def test_gcd_lcm_reasoning_reaches_the_exact_answer():
    rng = random.Random(23)
    for _ in range(300):
        p = problems.make_problem(rng, "gcd_lcm", "en")
        a, b = (int(v) for v in re.findall(r"\d+", p.prompt.split("\n")[0])[:2])
        want = math.gcd(a, b) if "greatest" in p.prompt else math.lcm(a, b)
        assert p.answer == str(want)
        assert p.reasoning.split("\n")[-1].endswith(f"= {want}.")


def test_evaluation_questions_are_the_ones_earlier_releases_were_measured_on():
    """The phase-3 format changed only the reasoning: the questions and answers of the evaluation seed
    are those of the generator that measured phases 1 and 2 (digest taken from that generator)."""
    items = problems.evaluation_set(20261129, 30)
    digest = hashlib.sha256("\n".join(f"{p.family}|{p.language}|{p.prompt}|{p.answer}" for p in items)
                            .encode()).hexdigest()
    assert digest == "0af1472edd226ac402cd2a6810031ec4a8dc773527e718bbb8662f4fbba578d5"


def test_phase3_training_examples_fit_the_length_limit():
    tok = tokenizers.Tokenizer.from_file(os.path.join(ROOT, "models", "tiny-r1", "tokenizer.json"))
    rng = random.Random(5)
    longest = 0
    for _ in range(1500):
        p = problems.sample_training_problem(rng, problems.MIXTURES["phase3"])
        context, target = chat_format.training_pieces(p.prompt, p.reasoning, p.response)
        longest = max(longest, len(tok.encode(context + target, add_special_tokens=False).ids))
    assert longest <= 1792  # MAX_LEN of the phase-3 run; max_position_embeddings is 2048
