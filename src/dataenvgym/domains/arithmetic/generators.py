"""Procedural generators for the arithmetic subskills.

Every generator draws operands under the exact condition that defines its subskill (a carry
in the ones column, a negative result, ...), so a subskill's items really exercise it. We
write these ourselves rather than take ``reasoning-gym``'s ``basic_arithmetic``: that one
samples whole expressions by length and cannot be asked for "a borrow" or "no carry".

Formats are fixed-width on purpose: operands are zero-padded to three digits and answers to
four characters (sign included). Fixed positions are what make column arithmetic learnable
for a small character model; the scorer compares numeric values, so padding never earns
credit on its own.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

OPERAND_WIDTH = 3
ANSWER_WIDTH = 4


def fmt_operand(value: int) -> str:
    """Zero-pad an operand to :data:`OPERAND_WIDTH` digits."""
    return f"{value:0{OPERAND_WIDTH}d}"


def fmt_answer(value: int) -> str:
    """Canonical answer: sign then zero-padded digits, :data:`ANSWER_WIDTH` characters."""
    if value < 0:
        return "-" + f"{-value:0{ANSWER_WIDTH - 1}d}"
    return f"{value:0{ANSWER_WIDTH}d}"


@dataclass(frozen=True)
class Problem:
    """A generated problem: the prompt text and its integer answer."""

    prompt: str
    value: int


Generator = Callable[[random.Random], Problem]


def _binary(a: int, op: str, b: int, value: int) -> Problem:
    return Problem(f"{fmt_operand(a)}{op}{fmt_operand(b)}=", value)


def _digits(value: int) -> list[int]:
    """Ones, tens, hundreds digits."""
    return [value % 10, (value // 10) % 10, value // 100]


def _carries(a: int, b: int) -> list[bool]:
    """Which columns (ones, tens) of ``a + b`` carry into the next column."""
    carry, out = 0, []
    for x, y in zip(_digits(a)[:2], _digits(b)[:2], strict=True):
        carry = int(x + y + carry >= 10)
        out.append(bool(carry))
    return out


def _borrows(a: int, b: int) -> list[bool]:
    """Which columns (ones, tens) of ``a - b`` (a >= b) borrow from the next column."""
    borrow, out = 0, []
    for x, y in zip(_digits(a)[:2], _digits(b)[:2], strict=True):
        borrow = int(x - borrow < y)
        out.append(bool(borrow))
    return out


def _three_digit_pair(rng: random.Random, accept: Callable[[int, int], bool]) -> tuple[int, int]:
    while True:
        a, b = rng.randint(100, 999), rng.randint(100, 999)
        if accept(a, b):
            return a, b


def add_no_carry(rng: random.Random) -> Problem:
    a, b = _three_digit_pair(rng, lambda a, b: a + b < 1000 and not any(_carries(a, b)))
    return _binary(a, "+", b, a + b)


def add_carry(rng: random.Random) -> Problem:
    a, b = _three_digit_pair(rng, lambda a, b: a + b < 1000 and sum(_carries(a, b)) == 1)
    return _binary(a, "+", b, a + b)


def add_carry_chain(rng: random.Random) -> Problem:
    a, b = _three_digit_pair(rng, lambda a, b: all(_carries(a, b)))
    return _binary(a, "+", b, a + b)


def sub_no_borrow(rng: random.Random) -> Problem:
    a, b = _three_digit_pair(rng, lambda a, b: a >= b and not any(_borrows(a, b)))
    return _binary(a, "-", b, a - b)


def sub_borrow(rng: random.Random) -> Problem:
    a, b = _three_digit_pair(rng, lambda a, b: a > b and sum(_borrows(a, b)) == 1)
    return _binary(a, "-", b, a - b)


def sub_borrow_chain(rng: random.Random) -> Problem:
    a, b = _three_digit_pair(rng, lambda a, b: a > b and all(_borrows(a, b)))
    return _binary(a, "-", b, a - b)


def sub_negative(rng: random.Random) -> Problem:
    a, b = _three_digit_pair(rng, lambda a, b: a < b)
    return _binary(a, "-", b, a - b)


def mul_by_one_digit(rng: random.Random) -> Problem:
    a, b = rng.randint(100, 999), rng.randint(3, 9)
    return _binary(a, "*", b, a * b)


def mul_two_digit(rng: random.Random) -> Problem:
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    return _binary(a, "*", b, a * b)


def div_remainder(rng: random.Random) -> Problem:
    a, b = rng.randint(100, 999), rng.randint(2, 9)
    return _binary(a, "%", b, a % b)
