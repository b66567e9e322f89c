"""Writes the evaluation suites that ship with fp4serve (all data written by us, fixed seeds):

  evals/examples/   a handful of problems in each public layout (MATH-500, AIME, MMLU-Pro, GPQA,
                    HumanEval), to show the formats and to test the loaders and scorers end to end;
  evals/tiny-r1/    tiny-r1's held-out test suites: one MATH-500-layout file per problem family
                    (add, sub, mul, linear, quadratic, gcd_lcm, fibonacci, series, percent) and the
                    multiple-choice family in MMLU-Pro layout (ten options A-J), drawn from
                    tools/tiny_r1/problems.py with a seed that training never used.

    python3 tools/make_eval_suites.py [--per-family 20] [--seed 20261201]

English prompts only: the harness asks every math problem with DeepSeek's suffix ("Please reason step by
step, and put your final answer within \\boxed{}."), which is one of tiny-r1's trained English wordings,
and every multiple-choice problem in the MMLU-Pro wording tiny-r1 was trained on.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "tiny_r1"))

import problems  # noqa: E402  (tools/tiny_r1/problems.py)

EXAMPLES = {
    "math500_sample.jsonl": [
        {"problem": "What is the value of $\\frac{3}{4} + \\frac{5}{6}$? Express your answer as a common fraction.",
         "answer": "\\frac{19}{12}", "subject": "Prealgebra", "level": 2, "unique_id": "example/math/1"},
        {"problem": "Find all real $x$ with $x^2 - 5x + 6 = 0$.", "answer": "2, 3", "subject": "Algebra",
         "level": 1, "unique_id": "example/math/2"},
        {"problem": "A circle has area $49\\pi$. What is its circumference?", "answer": "14\\pi",
         "subject": "Geometry", "level": 2, "unique_id": "example/math/3"},
        {"problem": "Simplify $\\sqrt{50} + \\sqrt{18}$.", "answer": "8\\sqrt{2}", "subject": "Algebra",
         "level": 2, "unique_id": "example/math/4"},
        {"problem": "For which $x$ is $2x - 3 \\ge 5$? Give your answer in interval notation.",
         "answer": "[4, \\infty)", "subject": "Algebra", "level": 2, "unique_id": "example/math/5"},
    ],
    "aime_sample.jsonl": [
        {"ID": "example-1", "Problem": "Find the number of positive divisors of $720$.", "Answer": "30"},
        {"ID": "example-2", "Problem": "Find the remainder when $2^{100}$ is divided by $1000$.", "Answer": "376"},
        {"ID": "example-3", "Problem": "How many ordered pairs of positive integers $(a, b)$ satisfy $a + b = 50$ "
                                      "and $\\gcd(a, b) = 5$?", "Answer": "4"},
        {"ID": "example-4", "Problem": "Find the sum of all positive integers $n < 100$ such that $n^2 + 1$ is "
                                      "divisible by $5$.", "Answer": "2000"},
    ],
    "mmlu_pro_sample.jsonl": [
        {"question_id": 1, "question": "Which planet in the Solar System has the shortest orbital period?",
         "options": ["Venus", "Mercury", "Mars", "Earth", "Jupiter", "Saturn", "Uranus", "Neptune"],
         "answer": "B", "answer_index": 1, "category": "physics"},
        {"question_id": 2, "question": "What is the time complexity of binary search on a sorted array of n "
                                       "elements?",
         "options": ["O(1)", "O(n)", "O(n log n)", "O(log n)", "O(n^2)", "O(sqrt n)", "O(2^n)", "O(n!)",
                     "O(log log n)", "O(n log log n)"],
         "answer": "D", "answer_index": 3, "category": "computer science"},
        {"question_id": 3, "question": "Which molecule carries amino acids to the ribosome during translation?",
         "options": ["mRNA", "rRNA", "tRNA", "DNA polymerase", "snRNA"],
         "answer": "C", "answer_index": 2, "category": "biology"},
        {"question_id": 4, "question": "What is 15% of 240?",
         "options": ["24", "30", "36", "40", "48", "32", "18", "60", "42", "20"],
         "answer": "C", "answer_index": 2, "category": "math"},
    ],
    "gpqa_sample.jsonl": [
        {"Record ID": "example-1", "Question": "A photon has a wavelength of 500 nm. Approximately what is its "
                                               "energy?",
         "Correct Answer": "2.5 eV", "Incorrect Answer 1": "0.25 eV", "Incorrect Answer 2": "25 eV",
         "Incorrect Answer 3": "250 eV", "Subdomain": "Physics"},
        {"Record ID": "example-2", "Question": "Which reagent converts a primary alcohol to an aldehyde without "
                                               "over-oxidation to the carboxylic acid?",
         "Correct Answer": "Pyridinium chlorochromate (PCC)", "Incorrect Answer 1": "Potassium permanganate",
         "Incorrect Answer 2": "Chromic acid (Jones reagent)", "Incorrect Answer 3": "Sodium borohydride",
         "Subdomain": "Organic Chemistry"},
        {"Record ID": "example-3", "Question": "What is the expected number of fair coin flips until the first "
                                               "head?",
         "Correct Answer": "2", "Incorrect Answer 1": "1", "Incorrect Answer 2": "1.5", "Incorrect Answer 3": "4",
         "Subdomain": "Probability"},
    ],
    "humaneval_sample.jsonl": [
        {"task_id": "Example/0", "entry_point": "running_max",
         "prompt": "from typing import List\n\n\ndef running_max(values: List[int]) -> List[int]:\n"
                   "    \"\"\"Return the running maximum of the list.\n    >>> running_max([1, 3, 2, 5])\n"
                   "    [1, 3, 3, 5]\n    \"\"\"\n",
         "canonical_solution": "    out = []\n    for v in values:\n        out.append(v if not out else "
                               "max(out[-1], v))\n    return out\n",
         "test": "def check(candidate):\n    assert candidate([]) == []\n    assert candidate([1, 3, 2, 5]) == "
                 "[1, 3, 3, 5]\n    assert candidate([-1, -2]) == [-1, -1]\n"},
        {"task_id": "Example/1", "entry_point": "is_palindrome_number",
         "prompt": "def is_palindrome_number(n: int) -> bool:\n    \"\"\"True when the decimal digits of n "
                   "read the same backwards. Negative numbers are not palindromes.\n"
                   "    >>> is_palindrome_number(121)\n    True\n    \"\"\"\n",
         "canonical_solution": "    return n >= 0 and str(n) == str(n)[::-1]\n",
         "test": "def check(candidate):\n    assert candidate(121)\n    assert not candidate(-121)\n"
                 "    assert not candidate(10)\n    assert candidate(0)\n"},
        {"task_id": "Example/2", "entry_point": "count_vowels",
         "prompt": "def count_vowels(text: str) -> int:\n    \"\"\"Count the vowels a, e, i, o, u in text, "
                   "ignoring case.\n    >>> count_vowels('Hello')\n    2\n    \"\"\"\n",
         "canonical_solution": "    return sum(1 for c in text.lower() if c in 'aeiou')\n",
         "test": "def check(candidate):\n    assert candidate('Hello') == 2\n    assert candidate('') == 0\n"
                 "    assert candidate('AEIOUxyz') == 5\n"},
    ],
}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows):4d} problems -> {path.relative_to(REPO)}")


def tiny_r1_suites(out: Path, per_family: int, seed: int) -> None:
    rng = random.Random(seed)
    for family in problems.MATH_FAMILIES:
        rows, seen = [], set()
        while len(rows) < per_family:
            core = problems._MAKERS[family](rng)
            if core.question_en in seen:
                continue
            seen.add(core.question_en)
            rows.append({"problem": core.question_en, "answer": core.answer, "subject": family, "level": 1,
                         "unique_id": f"tiny-r1/{family}/{len(rows)}"})
        write_jsonl(out / f"{family}.jsonl", rows)
    rows, seen = [], set()
    while len(rows) < per_family:
        family = rng.choice(problems.MATH_FAMILIES)
        core = problems._MAKERS[family](rng)
        if core.question_en in seen:
            continue
        seen.add(core.question_en)
        options = problems._distractors(rng, core.answer) + [core.answer]
        rng.shuffle(options)
        index = options.index(core.answer)
        rows.append({"question_id": len(rows), "question": core.question_en, "options": options,
                     "answer": problems.OPTION_LETTERS[index], "answer_index": index, "category": family})
    write_jsonl(out / "choice.jsonl", rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-family", type=int, default=20)
    ap.add_argument("--seed", type=int, default=20261201, help="not a seed tiny-r1's training or model card used")
    ap.add_argument("--out", type=Path, default=REPO / "evals")
    args = ap.parse_args()
    for name, rows in EXAMPLES.items():
        write_jsonl(args.out / "examples" / name, rows)
    tiny_r1_suites(args.out / "tiny-r1", args.per_family, args.seed)


if __name__ == "__main__":
    main()
