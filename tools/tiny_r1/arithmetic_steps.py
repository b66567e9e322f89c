"""Step-by-step arithmetic written out the way tiny-r1 is taught to reason.

A small transformer cannot add two six-digit numbers in one forward pass, but it can
reliably do one column at a time if every column is written down with its carry.  The
writers here turn an exact integer computation into such lines.  Operand digits are first
listed from the ones digit upward (zero padded to the same length), so the digit a column
needs always sits at the same place in both lists; the final answer is then read back in the
usual most-significant-first order.  Reversed digits appear only inside the reasoning.

Every writer returns (lines, result) and asserts its result against Python's integers, so a
formatting bug can never teach the model a wrong sum.
"""

from __future__ import annotations


def digits_from_ones(value: int, width: int) -> list[int]:
    """Decimal digits of a non-negative integer, ones digit first, zero padded to width."""
    if value < 0:
        raise ValueError(f"digits_from_ones needs a non-negative value, got {value}")
    digits = [int(ch) for ch in reversed(str(value))]
    return digits + [0] * (width - len(digits))


def _spaced(digits: list[int]) -> str:
    return " ".join(str(d) for d in digits)


def long_addition(a: int, b: int, compact: bool = False) -> tuple[list[str], int]:
    """Column addition of two non-negative integers.

    compact replaces the opening sentence by "{a} + {b} in columns:" (for additions inside
    longer reasoning, where the sentence would add length and no information).
    """
    width = max(len(str(a)), len(str(b)))
    da, db = digits_from_ones(a, width), digits_from_ones(b, width)
    opening = (f"{a} + {b} in columns:" if compact
               else f"Add {a} and {b} column by column, starting from the ones digit.")
    lines = [opening,
             f"Digits from the right: {_spaced(da)} | {_spaced(db)}"]
    carry = 0
    out_digits: list[int] = []
    for x, y in zip(da, db):
        total = x + y + carry
        # Two-digit totals are always written with two digits so every column line has the
        # same shape, which makes the carry easy to read off.
        lines.append(f"{x}+{y}+{carry}={total:02d} -> digit {total % 10}, carry {total // 10}")
        out_digits.append(total % 10)
        carry = total // 10
    if carry:
        lines.append(f"final carry {carry} -> digit {carry}")
        out_digits.append(carry)
    result = int("".join(str(d) for d in reversed(out_digits)))
    assert result == a + b
    lines.append(f"Digits of the sum from the right: {_spaced(out_digits)}")
    return lines, result


def long_subtraction(a: int, b: int, compact: bool = False) -> tuple[list[str], int]:
    """Column subtraction a - b of non-negative integers with a >= b (compact: as in
    long_addition, the opening is "{a} - {b} in columns:")."""
    if a < b:
        raise ValueError(f"long_subtraction needs a >= b, got {a} < {b}")
    width = len(str(a))
    da, db = digits_from_ones(a, width), digits_from_ones(b, width)
    opening = (f"{a} - {b} in columns:" if compact
               else f"Subtract {b} from {a} column by column, starting from the ones digit.")
    lines = [opening,
             f"Digits from the right: {_spaced(da)} | {_spaced(db)}"]
    borrow = 0
    out_digits: list[int] = []
    for x, y in zip(da, db):
        if x - y - borrow >= 0:
            digit, next_borrow, top = x - y - borrow, 0, x
        else:
            digit, next_borrow, top = x + 10 - y - borrow, 1, x + 10
        lines.append(f"{top}-{y}-{borrow}={digit} -> digit {digit}, borrow {next_borrow}")
        out_digits.append(digit)
        borrow = next_borrow
    assert borrow == 0
    result = int("".join(str(d) for d in reversed(out_digits)))
    assert result == a - b
    lines.append(f"Digits of the difference from the right: {_spaced(out_digits)}")
    return lines, result


def multiply_by_digit(a: int, d: int) -> tuple[list[str], int]:
    """a * d for a non-negative integer a and one decimal digit d."""
    if not 0 <= d <= 9:
        raise ValueError(f"multiply_by_digit needs one digit, got {d}")
    if d == 0 or a == 0:
        return [f"{a} * {d} = 0"], 0
    da = digits_from_ones(a, len(str(a)))
    lines = [f"{a} * {d}:", f"Digits of {a} from the right: {_spaced(da)}"]
    carry = 0
    out_digits: list[int] = []
    for x in da:
        total = x * d + carry
        lines.append(f"{x}*{d}+{carry}={total:02d} -> digit {total % 10}, carry {total // 10}")
        out_digits.append(total % 10)
        carry = total // 10
    if carry:
        lines.append(f"final carry {carry} -> digit {carry}")
        out_digits.append(carry)
    result = int("".join(str(v) for v in reversed(out_digits)))
    assert result == a * d
    lines.append(f"{a} * {d} = {result}")
    return lines, result


def long_multiplication(a: int, b: int) -> tuple[list[str], int]:
    """a * b for non-negative integers, b having at most two digits.

    One partial product per digit of b (each by multiply_by_digit), the tens partial shifted
    one place, then one column addition.
    """
    if not 0 <= b <= 99:
        raise ValueError(f"long_multiplication takes a multiplier of at most two digits, got {b}")
    if b < 10:
        lines, result = multiply_by_digit(a, b)
        return [f"Multiply {a} by {b}."] + lines, result
    tens, ones = divmod(b, 10)
    lines = [f"Multiply {a} by {b} one digit of {b} at a time."]
    ones_lines, ones_product = multiply_by_digit(a, ones)
    tens_lines, tens_product = multiply_by_digit(a, tens)
    shifted = tens_product * 10
    lines += ones_lines + tens_lines
    lines.append(f"Shift {tens_product} one place: {shifted}")
    if ones_product == 0:
        result = shifted
    else:
        lines.append(f"Now add {ones_product} and {shifted}.")
        add_lines, result = long_addition(ones_product, shifted)
        lines += add_lines[1:]
    assert result == a * b
    lines.append(f"{a} * {b} = {result}")
    return lines, result


# ----------------------------------------------------------------------------- composite steps
# Linear equations, Euclid's algorithm and lcm used to state two- and three-digit results in a
# single step ("-95 + 53 = -42", "182 = 1 * 98 + 84"), which a small model gets wrong.  The
# writers below break every such operation into the column steps above; only operations whose
# operands are all single digits (which the model does inside every column) stay on one line.


def signed_addition(x: int, y: int) -> tuple[list[str], int]:
    """x + y for signed integers, reduced to one column addition or subtraction of magnitudes.

    The first line names the reduction (for example "-95 + 53 = -(95 - 53)"), the column
    lines follow, and the last line states the signed result.
    """
    shown = f"{x} + {y}" if y >= 0 else f"{x} - {-y}"
    result = x + y
    if abs(x) < 10 and abs(y) < 10:
        return [f"{shown} = {result}"], result
    if x >= 0 and y >= 0:
        lines, total = long_addition(x, y, compact=True)
    elif x < 0 and y < 0:
        lines, total = long_addition(-x, -y, compact=True)
        lines = [f"{shown} = -({-x} + {-y})"] + lines
        total = -total
    else:
        plus, minus = (x, -y) if y < 0 else (y, -x)   # result = plus - minus, both >= 0
        if plus >= minus:
            lines, total = long_subtraction(plus, minus, compact=True)
            if x < 0:  # "-40 + 58 = 58 - 40"; for "78 - 38" the columns follow directly
                lines = [f"{shown} = {plus} - {minus}"] + lines
        else:
            lines, total = long_subtraction(minus, plus, compact=True)
            lines = [f"{shown} = -({minus} - {plus})"] + lines
            total = -total
    assert total == result
    return lines + [f"So {shown} = {result}."], result


def column_product(a: int, b: int) -> tuple[list[str], int]:
    """a * b for non-negative integers with min(a, b) <= 99, in columns unless both are digits
    or one of them is 1.

    The factor with fewer digits is the multiplier (one partial product per digit of it).
    """
    if (a < 10 and b < 10) or a == 1 or b == 1:
        return [f"{a} * {b} = {a * b}"], a * b
    top, multiplier = (a, b) if len(str(b)) <= len(str(a)) else (b, a)
    if multiplier < 10:
        lines, result = multiply_by_digit(top, multiplier)  # opens with "{top} * {digit}:"
    else:
        lines, result = long_multiplication(top, multiplier)
    assert result == a * b
    return lines, result


def division_with_remainder(n: int, d: int) -> tuple[list[str], int, int]:
    """n = q * d + r for n >= 0, d > 0: the quotient is named, then checked by a column
    product q * d = P and a column subtraction n - P = r with 0 <= r < d.

    Returns (lines, q, r).
    """
    if n < 0 or d <= 0:
        raise ValueError(f"division_with_remainder needs n >= 0 and d > 0, got {n}, {d}")
    q, r = divmod(n, d)
    lines = [f"Divide {n} by {d}: the quotient is {q}."]
    if q == 0:
        lines.append(f"{n} is smaller than {d}, so {n} = 0 * {d} + {n}.")
        return lines, q, r
    if q == 1:
        product = d  # 1 * d needs no multiplication
    else:
        mul_lines, product = column_product(d, q)
        lines += mul_lines
    if product == n:
        lines.append(f"{n} - {product} = 0")
    elif n < 10:
        lines.append(f"{n} - {product} = {r}")
    else:
        sub_lines, rest = long_subtraction(n, product, compact=True)
        assert rest == r
        lines += sub_lines
    assert product + r == n and 0 <= r < d
    lines.append(f"{r} is less than {d}, so {n} = {q} * {d} + {r}.")
    return lines, q, r


def exact_division(n: int, d: int) -> tuple[list[str], int]:
    """n / d for a signed n and a signed d that divides it: the sign first, then the quotient
    of the magnitudes checked by a column product."""
    if d == 0 or n % d:
        raise ValueError(f"exact_division needs a nonzero divisor of {n}, got {d}")
    q = n // d
    shown_d = f"({d})" if d < 0 else str(d)
    if n == 0:
        return [f"{n} / {shown_d} = 0"], 0
    mag = abs(n) // abs(d)
    if abs(d) == 1:
        return [f"{n} / {shown_d} = {q}"], q
    if n > 0 and d > 0:
        lines = []
    elif (n < 0) == (d < 0):
        lines = [f"{n} / {shown_d}: the signs are the same, so the result is {abs(n)} / {abs(d)}."]
    else:
        lines = [f"{n} / {shown_d}: the signs differ, so the result is -({abs(n)} / {abs(d)})."]
    lines.append(f"{abs(n)} / {abs(d)}: try {mag} and check {abs(d)} * {mag}.")
    mul_lines, product = column_product(abs(d), mag)
    assert product == abs(n)
    lines += mul_lines
    lines.append(f"{abs(d)} * {mag} = {abs(n)}, so {n} / {shown_d} = {q}.")
    assert q * d == n
    return lines, q
