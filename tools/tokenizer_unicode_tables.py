#!/usr/bin/env python3
"""Generates src/fp4/tokenizer/unicode_data.cc: the Unicode tables the tokenizer's normalizers use.

The tables come from Python's `unicodedata` module (its Unicode version is written into the output), so the
C++ side needs no ICU. What is generated:
  * canonical combining class of every code point whose class is not 0;
  * the full canonical (NFD) and compatibility (NFKD) decomposition of every code point that has one,
    Hangul syllables excepted (they decompose by arithmetic, UAX #15 §3.12);
  * the primary composites: (starter, combining) → composite, i.e. canonical pairs not excluded from
    composition;
  * the code points that can never be skipped by the "already normalized" fast path of NFC / NFKC;
  * the full lowercase mapping of one code point on its own (what Rust's char::to_lowercase gives).

Hugging Face `tokenizers` normalizes with older Unicode data than Python 3.11 (decompositions added in
Unicode 12.1-14, e.g. U+32FF, U+A7F2, U+10781..U+107BA, are unknown to it). To give the same text as HF, every
code point whose decomposition HF's normalizer leaves alone is generated without one (and its composition
pair is dropped); the list is found by asking the installed `tokenizers` package, so run this with the test
venv's Python:
  .venv/bin/python tools/tokenizer_unicode_tables.py > src/fp4/tokenizer/unicode_data.cc
"""
import sys
import unicodedata

MAX_CP = 0x110000
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def is_surrogate(cp):
    return 0xD800 <= cp <= 0xDFFF


def code_points():
    return (cp for cp in range(MAX_CP) if not is_surrogate(cp))


def emit_array(out, ctype, name, values, per_line=12):
    out.write(f"extern const {ctype} {name}[] = {{\n")
    values = list(values)
    for i in range(0, len(values), per_line):
        out.write("    " + ", ".join(str(v) for v in values[i:i + per_line]) + ",\n")
    out.write("};\n")
    out.write(f"extern const std::size_t {name}Size = {len(values)};\n\n")


def ranges(sorted_cps):
    result = []
    for cp in sorted_cps:
        if result and result[-1][1] + 1 == cp:
            result[-1][1] = cp
        else:
            result.append([cp, cp])
    return result


def decompositions_unknown_to_hf():
    """Code points that Python decomposes (canonically or for compatibility) but HF's normalizers keep."""
    from tokenizers import normalizers  # the reference the tokenizer must match

    nfd, nfkd = normalizers.NFD(), normalizers.NFKD()
    canonical, compatibility = set(), set()
    for cp in code_points():
        if 0x20 > cp or (HANGUL_FIRST <= cp <= HANGUL_LAST):
            continue
        c = chr(cp)
        if unicodedata.normalize("NFD", c) != c and nfd.normalize_str(c) == c:
            canonical.add(cp)
        if unicodedata.normalize("NFKD", c) != c and nfkd.normalize_str(c) == c:
            compatibility.add(cp)
    return canonical, compatibility


def main():
    out = sys.stdout
    no_canonical, no_compatibility = decompositions_unknown_to_hf()
    no_compatibility |= no_canonical

    def nfd_of(c):
        return c if ord(c) in no_canonical else unicodedata.normalize("NFD", c)

    def nfkd_of(c):
        return c if ord(c) in no_compatibility else unicodedata.normalize("NFKD", c)

    def nfc_of(c):
        return c if ord(c) in no_canonical else unicodedata.normalize("NFC", c)

    def nfkc_of(c):
        return c if ord(c) in no_compatibility else unicodedata.normalize("NFKC", c)
    ccc = {cp: unicodedata.combining(chr(cp)) for cp in code_points() if unicodedata.combining(chr(cp))}

    decomp_data = []
    decomp_rows = []  # cp, nfd_offset, nfd_length, nfkd_offset, nfkd_length
    for cp in code_points():
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        c = chr(cp)
        nfd = nfd_of(c)
        nfkd = nfkd_of(c)
        if nfd == c and nfkd == c:
            continue
        nfd_off, nfd_len = 0, 0
        if nfd != c:
            nfd_off, nfd_len = len(decomp_data), len(nfd)
            decomp_data.extend(ord(x) for x in nfd)
        if nfkd == nfd and nfd != c:
            nfkd_off, nfkd_len = nfd_off, nfd_len
        elif nfkd != c:
            nfkd_off, nfkd_len = len(decomp_data), len(nfkd)
            decomp_data.extend(ord(x) for x in nfkd)
        else:
            nfkd_off, nfkd_len = 0, 0
        decomp_rows.append((cp, nfd_off, nfd_len, nfkd_off, nfkd_len))

    compositions = []
    for cp in code_points():
        if HANGUL_FIRST <= cp <= HANGUL_LAST or cp in no_canonical:
            continue
        d = unicodedata.decomposition(chr(cp))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        if len(parts) != 2:
            continue
        if unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == chr(cp):
            compositions.append((parts[0], parts[1], cp))
    compositions.sort()
    second_of_pair = {b for (_, b, _) in compositions}
    # Hangul V and T jamo combine with a preceding L or LV syllable.
    second_of_pair.update(range(0x1161, 0x1176))
    second_of_pair.update(range(0x11A8, 0x11C3))

    def unstable(form):
        normal = nfc_of if form == "NFC" else nfkc_of
        result = []
        for cp in code_points():
            c = chr(cp)
            if cp in ccc or cp in second_of_pair or normal(c) != c:
                result.append(cp)
        return ranges(result)

    lower_rows, lower_data = [], []
    for cp in code_points():
        low = chr(cp).lower()
        if low != chr(cp):
            lower_rows.append((cp, len(lower_data), len(low)))
            lower_data.extend(ord(x) for x in low)

    out.write("// Generated by tools/tokenizer_unicode_tables.py from Python's unicodedata "
              f"(Unicode {unicodedata.unidata_version}). Do not edit by hand.\n")
    out.write("// Decompositions HF tokenizers does not know are left out, for these code points: "
              + " ".join(f"{cp:04X}" for cp in sorted(no_compatibility)) + "\n")
    out.write("#include <cstddef>\n#include <cstdint>\n\nnamespace fp4::tokenizer::unicode_data {\n\n")
    out.write(f"extern const char kUnicodeVersion[] = \"{unicodedata.unidata_version}\";\n\n")
    emit_array(out, "std::uint32_t", "kCombiningClass",
               [v for cp in sorted(ccc) for v in (cp, ccc[cp])])
    emit_array(out, "std::uint32_t", "kDecompositionRows", [v for row in decomp_rows for v in row], 10)
    emit_array(out, "std::uint32_t", "kDecompositionData", decomp_data)
    emit_array(out, "std::uint32_t", "kCompositions", [v for row in compositions for v in row])
    emit_array(out, "std::uint32_t", "kNfcUnstableRanges", [v for r in unstable("NFC") for v in r])
    emit_array(out, "std::uint32_t", "kNfkcUnstableRanges", [v for r in unstable("NFKC") for v in r])
    emit_array(out, "std::uint32_t", "kLowercaseRows", [v for row in lower_rows for v in row])
    emit_array(out, "std::uint32_t", "kLowercaseData", lower_data)
    out.write("}  // namespace fp4::tokenizer::unicode_data\n")


if __name__ == "__main__":
    main()
