"""Synthetic problems for tiny-r1: prompts, reasoning traces and exact answers.

Each family draws its numbers from a seeded random.Random, computes the answer with Python
integers, and writes the reasoning with the column writers of arithmetic_steps.  The prompt
wording (English and Korean templates) is the model's contract and is reproduced verbatim in
models/tiny-r1/README.md; change both together.

    python3 tools/tiny_r1/problems.py --seed 1 --count 3      # prints sample conversations
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

try:  # imported as a package module by the tests, as a script by the tools
    from . import arithmetic_steps as steps
except ImportError:  # pragma: no cover - script use
    import arithmetic_steps as steps

# The evaluated families.  "choice" re-asks a problem of any other family as a ten-option
# multiple choice question; "chat" (small talk) is trained on but has no exact answer.
MATH_FAMILIES = ("add", "sub", "mul", "linear", "quadratic", "gcd_lcm", "fibonacci", "series", "percent")
EVAL_FAMILIES = MATH_FAMILIES + ("choice",)
OPTION_LETTERS = "ABCDEFGHIJ"

EN_SUFFIXES = (
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "Think it through step by step and write the final answer in \\boxed{}.",
)
KO_PREFIX = "다음 문제를 차근차근 풀고, 최종 답을 \\boxed{} 안에 적어 주세요."


@dataclass(frozen=True)
class Problem:
    family: str       # one of EVAL_FAMILIES or "chat"
    language: str     # "en" or "ko"
    prompt: str       # the user message
    reasoning: str    # text between <think> and </think> (no surrounding newlines)
    response: str     # text after </think>, holding \boxed{answer} for math problems
    answer: str       # canonical boxed content ("" for chat)


@dataclass(frozen=True)
class _Core:
    """A math problem before it is wrapped in a prompt template."""
    question_en: str
    question_ko: str
    lines: list[str]
    answer: str


# ----------------------------------------------------------------------------- families

def _signed(value: int) -> str:
    """A value as it appears inside an expression: negative values in parentheses."""
    return f"({value})" if value < 0 else str(value)


def _pick_digits(rng: random.Random, low: int, high: int) -> int:
    """A number whose digit count is uniform in [low, high] (so long numbers are common)."""
    n = rng.randint(low, high)
    return rng.randint(10 ** (n - 1) if n > 1 else 0, 10 ** n - 1)


def _add(rng: random.Random) -> _Core:
    a, b = _pick_digits(rng, 1, 6), _pick_digits(rng, 1, 6)
    lines, result = steps.long_addition(a, b)
    lines.append(f"So {a} + {b} = {result}.")
    return _Core(f"What is {a} + {b}?", f"{a} + {b}는 얼마인가요?", lines, str(result))


def _sub(rng: random.Random) -> _Core:
    a, b = _pick_digits(rng, 1, 6), _pick_digits(rng, 1, 6)
    if a >= b:
        lines, result = steps.long_subtraction(a, b)
        lines.append(f"So {a} - {b} = {result}.")
    else:
        lines = [f"{a} is smaller than {b}, so {a} - {b} = -({b} - {a})."]
        more, diff = steps.long_subtraction(b, a)
        result = -diff
        lines += more + [f"So {a} - {b} = {result}."]
    return _Core(f"What is {a} - {b}?", f"{a} - {b}는 얼마인가요?", lines, str(result))


def _mul(rng: random.Random) -> _Core:
    a, b = _pick_digits(rng, 1, 3), _pick_digits(rng, 1, 2)
    a, b = max(a, 2), max(b, 2)
    first, second = (a, b) if rng.random() < 0.7 else (b, a)  # the prompt order varies
    lines, result = steps.long_multiplication(a, b)
    lines.append(f"So {first} * {second} = {result}.")
    return _Core(f"What is {first} × {second}?", f"{first} × {second}는 얼마인가요?", lines, str(result))


def _linear_equation_text(a: int, b: int, c: int) -> str:
    lead = "x" if a == 1 else "-x" if a == -1 else f"{a}x"
    const = f" + {b}" if b > 0 else f" - {-b}"
    return f"{lead}{const} = {c}"


def _linear(rng: random.Random) -> _Core:
    a = rng.choice([k for k in range(-12, 13) if abs(k) >= 2])
    x = rng.randint(-20, 20)
    b = rng.choice([k for k in range(-60, 61) if k != 0])
    c = a * x + b
    equation = _linear_equation_text(a, b, c)
    # Operations on multi-digit numbers are written in columns: moving b is one signed addition,
    # and the division is a named quotient checked by a column product.
    if b > 0:
        lines = [f"Subtract {b} from both sides: {a}x = {c} - {b}."]
    else:
        lines = [f"Add {-b} to both sides: {a}x = {c} + {-b}."]
    sum_lines, rhs = steps.signed_addition(c, -b)
    lines += sum_lines + [f"So {a}x = {rhs}.", f"Divide both sides by {a}: x = {rhs} / {_signed(a)}."]
    div_lines, quotient = steps.exact_division(rhs, a)
    assert rhs == a * x and quotient == x
    lines += div_lines + [f"So x = {x}."]
    return _Core(f"Solve for x: {equation}", f"방정식 {equation}을 x에 대해 푸세요.", lines, str(x))


def _poly_text(coeffs: list[int]) -> str:
    """a x^2 + b x + c with signs and unit coefficients written the usual way."""
    terms: list[str] = []
    for power, coef in zip((2, 1, 0), coeffs):
        if coef == 0:
            continue
        mag = abs(coef)
        body = {2: "x^2", 1: "x", 0: ""}[power]
        text = (body if mag == 1 and power else f"{mag}{body}")
        if not terms:
            terms.append(("-" if coef < 0 else "") + text)
        else:
            terms.append(("- " if coef < 0 else "+ ") + text)
    return " ".join(terms)


def _quadratic(rng: random.Random) -> _Core:
    r1, r2 = sorted((rng.randint(-12, 12), rng.randint(-12, 12)))
    lead = rng.choice([1, 1, 1, 1, 2, 3, -1])
    p, q = -(r1 + r2), r1 * r2  # monic form x^2 + p x + q
    shown = _poly_text([lead, lead * p, lead * q]) + " = 0"
    monic = _poly_text([1, p, q]) + " = 0"
    lines = []
    if lead != 1:
        lines.append(f"Divide both sides by {lead}: {monic}")
    lines.append(f"We need two numbers whose sum is {-p} and whose product is {q}.")
    lines.append(f"They are {r1} and {r2}: {r1} + {_signed(r2)} = {-p} and {r1} * {_signed(r2)} = {q}.")

    def factor(r: int) -> str:
        return "x" if r == 0 else f"(x - {r})" if r > 0 else f"(x + {-r})"
    if r1 == r2:
        lines.append(f"So {monic[:-4]} = {factor(r1)}^2, and the only root is x = {r1}.")
        answer = str(r1)
    else:
        lines.append(f"So {monic[:-4]} = {factor(r1)}{factor(r2)}, and the roots are x = {r1} and x = {r2}.")
        answer = f"{r1}, {r2}"
    return _Core(f"Solve the equation {shown}. Give all real roots.",
                 f"이차방정식 {shown}의 실근을 모두 구하세요.", lines, answer)


def _euclid_lines(a: int, b: int) -> tuple[list[str], int]:
    big, small = max(a, b), min(a, b)
    lines = ["Use the Euclidean algorithm."]
    while small:
        # Each step names the quotient, then finds the remainder with a column product and a
        # column subtraction; two one-digit numbers are divided on one line.
        if big < 10:
            q, r = divmod(big, small)
            lines.append(f"{big} = {q} * {small} + {r}")
        else:
            step_lines, q, r = steps.division_with_remainder(big, small)
            lines += step_lines
        assert big == q * small + r and 0 <= r < small
        big, small = small, r
    lines.append(f"The last nonzero remainder is {big}.")
    return lines, big


def _gcd_lcm(rng: random.Random) -> _Core:
    g = rng.randint(1, 30)
    m, n = rng.sample(range(1, 26), 2)
    a, b = g * m, g * n
    while a > 400 or b > 400 or a < 2 or b < 2:
        g = rng.randint(1, 30)
        m, n = rng.sample(range(1, 26), 2)
        a, b = g * m, g * n
    lines, gcd = _euclid_lines(a, b)
    if rng.random() < 0.5:
        lines.append(f"So gcd({a}, {b}) = {gcd}.")
        return _Core(f"Find the greatest common divisor of {a} and {b}.",
                     f"{a}와 {b}의 최대공약수를 구하세요.", lines, str(gcd))
    # lcm = (smaller / gcd) * larger: the smaller cofactor keeps the check and the product short.
    small, big = min(a, b), max(a, b)
    lines.append(f"So gcd({a}, {b}) = {gcd}, and lcm({a}, {b}) = {small} / {gcd} * {big}.")
    div_lines, cofactor = steps.exact_division(small, gcd)
    lines += div_lines + [f"So lcm({a}, {b}) = {cofactor} * {big}."]
    mul_lines, lcm = steps.column_product(big, cofactor)
    assert lcm * gcd == a * b
    lines += mul_lines + [f"So lcm({a}, {b}) = {lcm}."]
    return _Core(f"Find the least common multiple of {a} and {b}.",
                 f"{a}와 {b}의 최소공배수를 구하세요.", lines, str(lcm))


def _fibonacci(rng: random.Random) -> _Core:
    n = rng.randint(1, 25)
    values = [1, 1]
    while len(values) < n:
        values.append(values[-1] + values[-2])
    listing = ", ".join(f"F{i + 1}={v}" for i, v in enumerate(values[:n]))
    lines = ["Each term is the sum of the two before it.", listing, f"So F({n}) = {values[n - 1]}."]
    ordinal = _ordinal(n)
    return _Core(f"With F(1) = F(2) = 1, find the {ordinal} Fibonacci number F({n}).",
                 f"F(1) = F(2) = 1일 때, {n}번째 피보나치 수 F({n})를 구하세요.", lines, str(values[n - 1]))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _series(rng: random.Random) -> _Core:
    a, d, n = rng.randint(1, 50), rng.randint(1, 9), rng.randint(2, 25)
    last = a + (n - 1) * d
    lines: list[str] = []
    if rng.random() < 0.5:
        shown = f"{a} + {a + d} + {a + 2 * d} + ... + {last}" if n > 3 else " + ".join(
            str(a + k * d) for k in range(n))
        q_en = f"Find the sum {shown}."
        q_ko = f"{shown}의 합을 구하세요."
        lines.append(f"This is an arithmetic series with first term {a} and common difference {d}.")
        lines.append(f"Number of terms: ({last} - {a}) / {d} + 1.")
        span_lines, span = steps.signed_addition(last, -a)
        div_lines, steps_between = steps.exact_division(span, d)
        assert steps_between == n - 1
        lines += span_lines + div_lines + [f"Number of terms: {n - 1} + 1 = {n}."]
    else:
        q_en = (f"An arithmetic series has first term {a}, common difference {d} and {n} terms. "
                f"What is its sum?")
        q_ko = f"첫째항이 {a}, 공차가 {d}인 등차수열의 첫 {n}개 항의 합을 구하세요."
        lines.append(f"Last term: {a} + ({n} - 1) * {d} = {a} + {n - 1} * {d}.")
        mul_lines, offset = steps.column_product(n - 1, d)
        add_lines, computed_last = steps.signed_addition(a, offset)
        assert computed_last == last
        lines += mul_lines + add_lines + [f"Last term: {last}."]
    # Every two- and three-digit step below is written in columns as well.
    lines.append(f"Sum = {n} * ({a} + {last}) / 2.")
    pair_lines, pair = steps.signed_addition(a, last)
    lines += pair_lines
    if n % 2 == 0:
        lines.append(f"{n} is even: {n} / 2 = {n // 2}, so Sum = {n // 2} * {pair}.")
        big, small = (pair, n // 2)
    else:
        lines.append(f"{n} is odd, so {pair} is even: {pair} / 2.")
        half_lines, half = steps.exact_division(pair, 2)
        lines += half_lines + [f"So Sum = {n} * {half}."]
        big, small = (half, n)
    mul_lines, total = steps.long_multiplication(big, small)
    assert total == n * (a + last) // 2
    lines += mul_lines + [f"So the sum is {total}."]
    return _Core(q_en, q_ko, lines, str(total))


def _percent(rng: random.Random) -> _Core:
    while True:
        p = rng.randint(1, 99)
        base = rng.randint(1, 2000)
        if p * base % 100 == 0:
            break
    lines = [f"{p}% of {base} = {base} * {p} / 100."]
    mul_lines, product = steps.long_multiplication(base, p)
    result = product // 100
    lines += mul_lines + [f"{product} / 100 = {result}.", f"So {p}% of {base} is {result}."]
    return _Core(f"What is {p}% of {base}?", f"{base}의 {p}%는 얼마인가요?", lines, str(result))


_MAKERS = {"add": _add, "sub": _sub, "mul": _mul, "linear": _linear, "quadratic": _quadratic,
           "gcd_lcm": _gcd_lcm, "fibonacci": _fibonacci, "series": _series, "percent": _percent}


# ----------------------------------------------------------------------------- prompts

def _math_prompt(rng: random.Random, question: str, language: str) -> str:
    if language == "ko":
        return f"{KO_PREFIX}\n\n{question}"
    style = rng.randrange(3)
    if style == 2:  # a bare question: the model answers in the same format anyway
        return question
    return f"{question}\n{EN_SUFFIXES[style]}"


def _distractors(rng: random.Random, answer: str) -> list[str]:
    """Nine wrong options that look like plausible slips (off by one, by ten, a sign...)."""
    wrong: set[str] = set()
    if "," in answer:  # two roots
        r1, r2 = (int(v) for v in answer.split(","))
        while len(wrong) < 9:
            s1, s2 = sorted((r1 + rng.randint(-4, 4), r2 + rng.randint(-4, 4)))
            if rng.random() < 0.3:
                s1, s2 = sorted((-r1, -r2))
            cand = f"{s1}, {s2}" if s1 != s2 else str(s1)
            if cand != answer:
                wrong.add(cand)
        return sorted(wrong)
    value = int(answer)
    spread = max(10, abs(value) // 5)
    while len(wrong) < 9:
        kind = rng.randrange(5)
        if kind == 0:
            cand = value + rng.choice([-2, -1, 1, 2])
        elif kind == 1:
            cand = value + rng.choice([-100, -10, 10, 100])
        elif kind == 2:
            cand = -value if value else rng.randint(1, 9)
        elif kind == 3:
            cand = value + rng.randint(-spread, spread)
        else:
            cand = value * rng.choice([2, 10]) if rng.random() < 0.5 else value // 2
        if str(cand) != answer:
            wrong.add(str(cand))
    return sorted(wrong)


def _choice(rng: random.Random, language: str) -> Problem:
    family = rng.choice(MATH_FAMILIES)
    core = _MAKERS[family](rng)
    options = _distractors(rng, core.answer) + [core.answer]
    rng.shuffle(options)
    letter = OPTION_LETTERS[options.index(core.answer)]
    listing = "\n".join(f"{OPTION_LETTERS[i]}. {opt}" for i, opt in enumerate(options))
    if language == "ko":
        prompt = (f"다음 객관식 문제를 풀고, 정답의 기호를 \\boxed{{}} 안에 적어 주세요.\n\n"
                  f"질문: {core.question_ko}\n선택지:\n{listing}")
        response = f"정답은 \\boxed{{{letter}}}입니다."
    else:
        prompt = (f"Answer the following multiple choice question. Think step by step, then put the "
                  f"letter of the correct option within \\boxed{{}}.\n\n"
                  f"Question: {core.question_en}\nOptions:\n{listing}")
        response = f"The answer is \\boxed{{{letter}}}."
    # Finding the value among ten options is a lookup over the prompt; done in one step it was no
    # better than chance.  The options are restated one at a time, verbatim, each compared with the
    # value, so each step is a copy and a comparison next to each other.  Every option is restated,
    # not only those up to the match: a scan that stops at the match writes the value itself on
    # its last line, and a model trained on that learned to write its own value as option A
    # instead of copying the prompt.  With all ten, nine of every ten lines can only be copied.
    lines = core.lines + [f"Compare {core.answer} with the options in order."]
    for i, option in enumerate(options):
        verdict = "yes" if option == core.answer else "no"
        lines.append(f"{OPTION_LETTERS[i]}. {option}: {verdict}")
    lines.append(f"The value {core.answer} is option {letter}.")
    return Problem("choice", language, prompt, "\n".join(lines), response, letter)


_CHAT = (
    ("en", ("Hello!", "Hi there!", "Hi, how are you?", "Good morning!"),
     "The user is greeting me. I will greet them back and offer help.",
     "Hello! I'm tiny-r1, a small reasoning model. Give me an arithmetic or algebra problem "
     "and I will solve it step by step."),
    ("en", ("Who are you?", "What can you do?", "Tell me about yourself."),
     "The user asks who I am. I will describe myself briefly.",
     "I'm tiny-r1, a small DeepSeek-V3-style model that ships with fp4serve. I solve arithmetic, "
     "equations, gcd and lcm, Fibonacci numbers, series sums and percentages, showing my steps."),
    ("en", ("Thanks!", "Thank you very much.", "Great, thanks for the help."),
     "The user thanks me. I will reply politely.",
     "You're welcome! Send another problem whenever you like."),
    ("ko", ("안녕하세요!", "안녕!", "반가워요."),
     "The user greets me in Korean. I will greet them back in Korean.",
     "안녕하세요! 저는 작은 추론 모델 tiny-r1입니다. 수학 문제를 주시면 단계별로 풀어 드릴게요."),
    ("ko", ("너는 누구야?", "무엇을 할 수 있나요?"),
     "The user asks in Korean who I am. I will answer in Korean.",
     "저는 fp4serve와 함께 제공되는 작은 모델 tiny-r1입니다. 덧셈, 뺄셈, 곱셈, 방정식, 최대공약수와 "
     "최소공배수, 피보나치 수, 등차수열의 합, 백분율 문제를 풀 수 있어요."),
    ("ko", ("고마워요!", "감사합니다."),
     "The user thanks me in Korean. I will reply politely in Korean.",
     "천만에요! 또 궁금한 문제가 있으면 언제든지 물어보세요."),
)


def _chat(rng: random.Random) -> Problem:
    language, prompts, reasoning, reply = rng.choice(_CHAT)
    return Problem("chat", language, rng.choice(prompts), reasoning, reply, "")


def make_problem(rng: random.Random, family: str, language: str) -> Problem:
    """One problem of the given family ("chat" included) and language ("en" or "ko")."""
    if language not in ("en", "ko"):
        raise ValueError(f"language must be 'en' or 'ko', got {language!r}")
    if family == "chat":
        return _chat(rng)
    if family == "choice":
        return _choice(rng, language)
    if family not in _MAKERS:
        raise ValueError(f"unknown family {family!r}; expected one of {EVAL_FAMILIES + ('chat',)}")
    core = _MAKERS[family](rng)
    question = core.question_ko if language == "ko" else core.question_en
    if language == "ko":
        response = f"따라서 답은 \\boxed{{{core.answer}}}입니다."
    else:
        response = f"The answer is \\boxed{{{core.answer}}}."
    return Problem(family, language, _math_prompt(rng, question, language), "\n".join(core.lines),
                   response, core.answer)


# Training mixture: families whose reasoning is longer or whose single steps are harder get
# more weight; small talk is a sprinkle.
TRAIN_WEIGHTS = {"add": 1.0, "sub": 1.0, "mul": 1.3, "linear": 1.0, "quadratic": 0.9,
                 "gcd_lcm": 1.3, "fibonacci": 0.5, "series": 1.3, "percent": 1.0, "choice": 1.2,
                 "chat": 0.04}
# Second phase of the released run: continues from the first phase's weights with more weight
# on the families whose single steps (direct two- and three-digit arithmetic, option lookup)
# were still weak after it.
PHASE2_WEIGHTS = {"add": 1.0, "sub": 0.7, "mul": 1.0, "linear": 1.6, "quadratic": 0.8,
                  "gcd_lcm": 1.8, "fibonacci": 0.5, "series": 1.8, "percent": 0.4, "choice": 1.8,
                  "chat": 0.04}
# Third phase: continues from the phase-2 release after linear equations, Euclid's algorithm,
# lcm and arithmetic series were rewritten so that their multi-digit operations are done in
# columns.  Those families (and multiple choice, which re-asks them) get most of the weight;
# the others keep enough to stay where they are.
PHASE3_WEIGHTS = {"add": 0.6, "sub": 0.5, "mul": 0.7, "linear": 2.0, "quadratic": 0.5,
                  "gcd_lcm": 2.4, "fibonacci": 0.3, "series": 2.0, "percent": 0.5, "choice": 1.8,
                  "chat": 0.04}
# Fourth phase: continues from the phase-3 release after multiple choice started to compare the
# options one by one.  Multiple choice (at chance before) gets the most weight, then the
# families below 90% in phase 3 (gcd/lcm, addition, multiplication); its last part also trains
# against the NVFP4 quantization (train.py --qat-start).
PHASE4_WEIGHTS = {"add": 1.0, "sub": 0.7, "mul": 1.2, "linear": 0.8, "quadratic": 0.6,
                  "gcd_lcm": 1.8, "fibonacci": 0.3, "series": 0.9, "percent": 0.4, "choice": 3.0,
                  "chat": 0.04}
# Fifth phase: continues from the phase-4 release after multiple choice started to restate every
# option.  Multiple choice (still at chance) gets about 40% of the problems; its reasoning solves an
# embedded problem of another family, so those families keep training through it as well.
PHASE5_WEIGHTS = {"add": 1.0, "sub": 0.7, "mul": 1.2, "linear": 0.7, "quadratic": 0.5,
                  "gcd_lcm": 1.5, "fibonacci": 0.3, "series": 0.7, "percent": 0.4, "choice": 4.5,
                  "chat": 0.04}
MIXTURES = {"phase1": TRAIN_WEIGHTS, "phase2": PHASE2_WEIGHTS, "phase3": PHASE3_WEIGHTS, "phase4": PHASE4_WEIGHTS,
            "phase5": PHASE5_WEIGHTS}
KOREAN_SHARE = 0.3


def sample_training_problem(rng: random.Random, weights: dict[str, float] | None = None) -> Problem:
    """One training problem; weights (family -> relative weight) default to TRAIN_WEIGHTS."""
    weights = weights or TRAIN_WEIGHTS
    families = list(weights)
    family = rng.choices(families, weights=[weights[f] for f in families])[0]
    language = "ko" if rng.random() < KOREAN_SHARE else "en"
    return make_problem(rng, family, language)


def evaluation_set(seed: int, per_family: int) -> list[Problem]:
    """per_family fresh problems of each evaluated family, 30% of them in Korean."""
    rng = random.Random(seed)
    out = []
    for family in EVAL_FAMILIES:
        for _ in range(per_family):
            out.append(make_problem(rng, family, "ko" if rng.random() < KOREAN_SHARE else "en"))
    return out


# ----------------------------------------------------------------------------- checking

def extract_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} in text, braces balanced; None if there is none."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i = start + len("\\boxed{")
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def _integers(text: str) -> list[int] | None:
    cleaned = text.replace("x", "").replace("=", "").replace(" ", "").replace("\\,", "")
    cleaned = cleaned.replace("−", "-").replace("{", "").replace("}", "")
    if not cleaned:
        return None
    parts = cleaned.replace(";", ",").replace("or", ",").split(",")
    try:
        return [int(p) for p in parts if p]
    except ValueError:
        return None


def answer_is_correct(family: str, completion: str, expected: str) -> bool:
    """Whether a completion's last boxed answer equals the expected one.

    Choice answers compare as letters; quadratic answers as sets of roots (so "5, -2" and
    "-2, 5" both count); every other family as one integer.
    """
    got = extract_boxed(completion)
    if got is None:
        return False
    got = got.strip()
    if family == "choice":
        letter = got.replace("\\text", "").strip("{}() .").upper()
        return letter == expected.upper()
    got_values, want_values = _integers(got), _integers(expected)
    if got_values is None or want_values is None:
        return False
    if family == "quadratic":
        return set(got_values) == set(want_values)
    return len(got_values) == 1 and got_values == want_values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--family", choices=EVAL_FAMILIES + ("chat",))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for _ in range(args.count):
        if args.family:
            p = make_problem(rng, args.family, "ko" if rng.random() < KOREAN_SHARE else "en")
        else:
            p = sample_training_problem(rng)
        print(f"### {p.family} ({p.language})\n[user] {p.prompt}\n[think]\n{p.reasoning}\n"
              f"[answer] {p.response}\n")


if __name__ == "__main__":
    main()
