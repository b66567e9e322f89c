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


def long_addition(a: int, b: int) -> tuple[list[str], int]:
    """Column addition of two non-negative integers."""
    width = max(len(str(a)), len(str(b)))
    da, db = digits_from_ones(a, width), digits_from_ones(b, width)
    lines = [f"Add {a} and {b} column by column, starting from the ones digit.",
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


def long_subtraction(a: int, b: int) -> tuple[list[str], int]:
    """Column subtraction a - b of non-negative integers with a >= b."""
    if a < b:
        raise ValueError(f"long_subtraction needs a >= b, got {a} < {b}")
    width = len(str(a))
    da, db = digits_from_ones(a, width), digits_from_ones(b, width)
    lines = [f"Subtract {b} from {a} column by column, starting from the ones digit.",
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
