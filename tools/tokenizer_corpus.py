#!/usr/bin/env python3
"""Deterministic text corpus for checking the tokenizer against Hugging Face `tokenizers`.

`generate()` returns the same list of strings for the same seed on every machine: English, Korean (math
prompts among them), Chinese, Japanese, emoji with ZWJ sequences and skin tones, combining marks, right-to-left
scripts, source code, LaTeX, long digit runs, runs of spaces and newlines, special-token strings inside text,
random assigned code points, and a few ~100 KB documents. Code points are taken from Unicode 14 or older so that
every engine under comparison classifies them the same way.

Usage: python3 tools/tokenizer_corpus.py --out corpus.json [--seed 20260401] [--documents 3]
"""
import argparse
import json
import random
import unicodedata

DEFAULT_SEED = 20260401

ENGLISH_WORDS = (
    "the of and to in is you that it he was for on are as with his they I at be this have from or one had by word "
    "but not what all were we when your can said there use an each which she do how their if will up other about out "
    "many then them these so some her would make like him into time has look two more write go see number no way "
    "could people my than first water been call who oil its now find long down day did get come made may part over "
    "new sound take only little work know place year live me back give most very after thing our just name good "
    "sentence man think say great where help through much before line right too mean old any same tell boy follow "
    "came want show also around form three small set put end does another well large must big even such because "
    "turn here why ask went men read need land different home us move try kind hand picture again change off play "
    "spell air away animal house point page letter mother answer found study still learn should America world "
    "tokenizer inference quantization matrix gradient FP4 NVFP4 Hopper DeepSeek transformer attention"
).split()
CONTRACTIONS = ["don't", "I'm", "we're", "they've", "she'll", "it's", "I'd", "WE'RE", "It'S", "y'all", "o'clock"]
PUNCT = [".", ",", "!", "?", ";", ":", "...", " -", "—", "–", "(", ")", "\"", "'", "«", "»", "¿", "¡"]

KOREAN_PHRASES = [
    "다음 방정식을 풀어주세요", "다음 방정식을 풀어주세요: x^2 - 5x + 6 = 0", "삼각형의 넓이를 구하시오",
    "함수 f(x) = 2x + 3의 역함수를 구하세요", "수열의 일반항을 구하고 합을 계산하시오", "확률을 분수로 나타내시오",
    "안녕하세요, 만나서 반갑습니다", "오늘 날씨가 정말 좋네요", "이 문제를 단계별로 설명해 주세요",
    "정답은 \\boxed{42}입니다", "미분하면 f'(x) = 3x^2 입니다", "서울특별시 강남구", "한국어 토크나이저 테스트",
]
CHINESE_PHRASES = [
    "请解下列方程", "我们今天学习量子力学的基础知识", "人工智能正在改变世界", "求函数的最大值和最小值",
    "这是一个测试句子，包含标点符号。", "北京欢迎你！", "深度求索公司发布了新的推理模型", "计算：３＋４＝？",
]
JAPANESE_PHRASES = [
    "次の方程式を解いてください", "東京は日本の首都です。", "カタカナとひらがなを混ぜた文章", "ｶﾀｶﾅ（半角）もテスト",
    "今日はいい天気ですね！", "ラーメンを食べたい", "〜ですか？はい、そうです。",
]
EMOJI = [
    "😀", "😂", "🥲", "🤖", "🚀", "🔥", "✅", "❤️", "❤", "👍", "👍🏻", "👍🏽", "👍🏿", "👋🏼",
    "👨\u200d👩\u200d👧\u200d👦", "👩\u200d💻", "🧑🏾\u200d🚀", "🏳️\u200d🌈", "🏴\u200d☠️", "👁️\u200d🗨️",
    "🇰🇷", "🇯🇵", "🇺🇸", "1️⃣", "#️⃣", "©️", "🫠", "🥹", "🧑\u200d🤝\u200d🧑", "💁🏽\u200d♀️",
]
COMBINING = ["\u0301", "\u0300", "\u0302", "\u0303", "\u0308", "\u0323", "\u0327", "\u0328", "\u030c", "\u0336", "\u20dd"]
RTL_PHRASES = [
    "مرحبا بالعالم", "السلام عليكم ورحمة الله", "حل المعادلة التالية: ٣س + ٥ = ١١", "שָׁלוֹם עוֹלָם",
    "עברית עם ניקוד: בְּרֵאשִׁית", "\u200fمثال\u200e English \u200fمثال", "فارسی: سلام دنیا ۱۲۳۴",
]
OTHER_SCRIPTS = [
    "Привет, мир! Ёлка", "Γειά σου Κόσμε ΣΟΦΙΑ σοφία", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Xin chào thế giới, tiếng Việt",
    "İstanbul ıı İİ", "straße STRASSE ﬁne ﬀ", "ǅemal ǈubljana", "Ⅻ ⅻ ① ⓐ ㎏ ㍻",
]
CODE_SNIPPETS = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
    "const x = await fetch(`/api/v1/items?id=${id}`);\nconsole.log(x?.status ?? 'none');",
    "#include <vector>\nstd::vector<int> v{1, 2, 3};  // C++20\n",
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
    "    \n    \n\tindented\t\ttabs\n",
    "if __name__ == '__main__':\n    main()\n",
    "x = {'a': [1, 2, {'b': None}], \"c\": True}\n",
    "fn main() -> Result<(), Box<dyn Error>> { println!(\"{:?}\", v); Ok(()) }",
    "<div class=\"row\">&nbsp;<a href='#'>link</a></div>",
]
LATEX = [
    r"\frac{a}{b} + \sqrt{x^2 + y^2}", r"$\int_0^\infty e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}$",
    r"\begin{align} a &= b + c \\ d &= e \end{align}", r"\boxed{\dfrac{3}{4}}", r"\sum_{k=1}^{n} k = \frac{n(n+1)}{2}",
    r"\mathbb{R}^n \to \mathbb{R}", r"$$\lim_{x \to 0} \frac{\sin x}{x} = 1$$", r"\left( \alpha + \beta \right)^2",
]
SPECIAL_STRINGS = [
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>",
    "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<|EOT|>",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool_call>", "</tool_call>", "<|begin_of_text|>",
    "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|python_tag|>", "<｜User", "<think", "</think",
    "<|im_start", "[gMASK]", "<sop>", "<｜fim▁hole｜>",
]
UNICODE_SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\u2009", "\u0085", "\u200b", "\u2028", "\ufeff"]


def assigned_code_points():
    """Assigned, non-surrogate code points up to U+2FFFF (Unicode 14 per Python 3.11's unicodedata)."""
    result = []
    for cp in range(0x20, 0x30000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat in ("Cn", "Cs", "Co"):
            continue
        result.append(ch)
    return result


class Corpus:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.random_pool = assigned_code_points()

    def pick(self, seq):
        return self.rng.choice(seq)

    def english(self):
        words = []
        for _ in range(self.rng.randint(1, 40)):
            w = self.pick(ENGLISH_WORDS)
            if self.rng.random() < 0.1:
                w = self.pick(CONTRACTIONS)
            if self.rng.random() < 0.15:
                w = w.capitalize()
            if self.rng.random() < 0.05:
                w = w.upper()
            words.append(w)
            if self.rng.random() < 0.12:
                words[-1] += self.pick(PUNCT)
        return " ".join(words)

    def hangul_syllables(self, n):
        return "".join(chr(self.rng.randint(0xAC00, 0xD7A3)) for _ in range(n))

    def korean(self):
        parts = [self.pick(KOREAN_PHRASES)]
        if self.rng.random() < 0.5:
            parts.append(self.hangul_syllables(self.rng.randint(1, 12)))
        if self.rng.random() < 0.3:
            parts.append(f"{self.rng.randint(0, 999)}x + {self.rng.randint(0, 99)} = {self.rng.randint(-50, 50)}")
        text = " ".join(parts)
        if self.rng.random() < 0.2:
            text = unicodedata.normalize("NFD", text)  # conjoining jamo: NFC recomposes them
        return text

    def cjk(self):
        which = self.rng.random()
        if which < 0.4:
            return self.pick(CHINESE_PHRASES) + "".join(chr(self.rng.randint(0x4E00, 0x9FFF)) for _ in range(self.rng.randint(0, 10)))
        if which < 0.7:
            return self.pick(JAPANESE_PHRASES) + "".join(chr(self.rng.randint(0x3041, 0x30FF)) for _ in range(self.rng.randint(0, 8)))
        # Extension A and B, and compatibility ideographs (NFC maps some of those to unified ones).
        pools = [(0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0xF900, 0xFAD9)]
        lo, hi = self.pick(pools)
        return "".join(chr(self.rng.randint(lo, hi)) for _ in range(self.rng.randint(1, 10)))

    def emoji(self):
        return "".join(self.pick(EMOJI) + (self.pick(["", " ", "\n"]) if self.rng.random() < 0.5 else "")
                       for _ in range(self.rng.randint(1, 8)))

    def combining(self):
        base = self.english()[: self.rng.randint(1, 30)] or "a"
        out = []
        for ch in base:
            out.append(ch)
            for _ in range(self.rng.choice([0, 0, 1, 2, 5])):
                out.append(self.pick(COMBINING))
        text = "".join(out)
        return self.pick([text, unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", "Ｃａｆé ñandú Ångström ǆ")])

    def rtl(self):
        return " ".join(self.pick(RTL_PHRASES + OTHER_SCRIPTS) for _ in range(self.rng.randint(1, 3)))

    def digits(self):
        kinds = [
            lambda: "".join(self.rng.choice("0123456789") for _ in range(self.rng.randint(1, 200))),
            lambda: f"{self.rng.randint(0, 10**12):,}",
            lambda: f"{self.rng.random() * 10**self.rng.randint(0, 9):.{self.rng.randint(0, 8)}f}",
            lambda: "٠١٢٣٤٥٦٧٨٩"[: self.rng.randint(1, 10)] + " ١٢٣",
            lambda: "０１２３４５６７８９"[: self.rng.randint(1, 10)],
            lambda: "x² + y³ = z¹⁰ ½ ¾ ⅞",
            lambda: "3.14159265358979323846264338327950288419716939937510",
            lambda: "+82-10-1234-5678, 2026-04-01T12:34:56Z",
        ]
        return self.pick(kinds)()

    def spaces(self):
        return "".join(self.pick(UNICODE_SPACES) * self.rng.randint(1, 6) + (self.pick(ENGLISH_WORDS) if self.rng.random() < 0.5 else "")
                       for _ in range(self.rng.randint(1, 8)))

    def special(self):
        parts = []
        for _ in range(self.rng.randint(1, 6)):
            parts.append(self.pick(SPECIAL_STRINGS))
            parts.append(self.pick(["", " ", "\n", "  ", self.english()[:20], self.korean()[:10]]))
        return "".join(parts)

    def random_chars(self):
        return "".join(self.pick(self.random_pool) for _ in range(self.rng.randint(1, 30)))

    def mixed(self):
        makers = [self.english, self.korean, self.cjk, self.emoji, self.combining, self.rtl, self.digits, self.spaces,
                  self.special, lambda: self.pick(CODE_SNIPPETS), lambda: self.pick(LATEX)]
        return self.pick(["", " ", "\n", "\n\n"]).join(self.pick(makers)() for _ in range(self.rng.randint(2, 6)))

    def document(self, target_bytes):
        parts, size = [], 0
        while size < target_bytes:
            piece = self.mixed() + self.pick(["\n", "\n\n", " "])
            parts.append(piece)
            size += len(piece.encode("utf-8"))
        return "".join(parts)


def generate(seed=DEFAULT_SEED, documents=3):
    c = Corpus(seed)
    corpus = ["", " ", "\n", "  ", "\t", "a", "I", "'s", "’s", "don't", "DON'T", "<think>", "<think>\n", "\u200b", "\ufeff"]
    plan = [
        (c.english, 900), (c.korean, 600), (c.cjk, 450), (c.emoji, 300), (c.combining, 300), (c.rtl, 300),
        (lambda: c.pick(CODE_SNIPPETS) + c.pick(["", "\n", c.english()]), 300), (lambda: c.pick(LATEX) + " " + c.english()[:30], 250),
        (c.digits, 350), (c.spaces, 350), (c.special, 400), (c.random_chars, 300), (c.mixed, 500),
    ]
    for make, count in plan:
        corpus.extend(make() for _ in range(count))
    corpus.extend(c.document(100_000) for _ in range(documents))
    return corpus


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--documents", type=int, default=3)
    args = parser.parse_args()
    corpus = generate(args.seed, args.documents)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(corpus, f, ensure_ascii=False)
    print(f"{len(corpus)} strings, {sum(len(s.encode()) for s in corpus)} bytes -> {args.out}")


if __name__ == "__main__":
    main()
