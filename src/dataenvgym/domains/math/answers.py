"""Final answers of math solutions: extraction and equivalence.

MATH solutions end in ``\\boxed{...}``; two answers are compared by ``math-verify``, which
parses LaTeX into sympy and decides equivalence (``\\frac12`` = ``0.5`` = ``1/2``,
``2\\sqrt3`` = ``\\sqrt{12}``, intervals, sets, units and percent signs dropped). GSM8K
solutions end in ``#### <number>``; numbers are compared exactly as decimals.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal, InvalidOperation
from typing import Any

#: Seconds math-verify may spend parsing or comparing one answer (it uses SIGALRM, which only
#: the main thread can set, so other threads run without a limit).
TIMEOUT_SECONDS = 5

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced.

    Returns ``None`` when there is none or its braces never close.
    """
    starts = [m.end() for m in _BOXED.finditer(text)]
    if not starts:
        # `\boxed 5` without braces: MATH has a few.
        bare = re.findall(r"\\boxed (\S+)", text)
        return bare[-1].rstrip("$.") if bare else None
    start = starts[-1]
    depth = 1
    for index in range(start, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:index].strip()
    return None


def _timeout() -> int | None:
    return TIMEOUT_SECONDS if threading.current_thread() is threading.main_thread() else None


def parse_gold(answer: str) -> list[Any]:
    """A gold MATH answer (the boxed content) parsed for :func:`math_equal`."""
    from math_verify import parse

    return list(parse(f"\\boxed{{{answer}}}", parsing_timeout=_timeout()))


def math_equal(gold_answer: str, prediction: str) -> bool:
    """Whether ``prediction`` (a full response) states an answer equivalent to the gold one.

    The prediction's last ``\\boxed{}`` counts; without one, math-verify falls back to the
    last expression it can read, as a grader reading the response would.
    """
    from math_verify import parse, verify

    if not prediction.strip():
        return False
    timeout = _timeout()
    gold = parse_gold(gold_answer)
    predicted = parse(prediction, parsing_timeout=timeout)
    if not gold or not predicted:
        return False
    return bool(verify(gold, predicted, timeout_seconds=timeout))


def _equal_pair(pair: tuple[str, str]) -> bool:
    return math_equal(*pair)


def math_equal_many(
    golds: Sequence[str], predictions: Sequence[str], *, workers: int = 0
) -> list[bool]:
    """:func:`math_equal` over many answers, in worker processes when there are many.

    sympy makes one comparison take from milliseconds to a second, so a 5 000-problem test
    split is worth spreading over cores; in its own process each comparison also keeps its
    time limit (SIGALRM needs a main thread). ``workers`` 0 picks serial for fewer than 200
    answers, else up to 8 processes; 1 is always serial.
    """
    pairs = list(zip(golds, predictions, strict=True))
    if workers == 0:
        workers = 1 if len(pairs) < 200 else min(8, os.cpu_count() or 1)
    if workers <= 1:
        return [math_equal(gold, prediction) for gold, prediction in pairs]
    # spawn, not fork: the parent holds torch threads that a forked child must not inherit.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        chunk = max(1, len(pairs) // (4 * workers))
        return list(pool.map(_equal_pair, pairs, chunksize=chunk))


def is_parseable(answer: str) -> bool:
    """Whether math-verify can read ``answer`` (used to check generated data)."""
    return bool(parse_gold(answer))


_NUMBER = re.compile(r"-?\$?\s*\d[\d,]*(?:\.\d+)?|-?\.\d+")


def parse_number(text: str) -> Decimal | None:
    """A number written like ``1,234``, ``$18.50``, ``-3`` or ``7.`` as an exact decimal."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    cleaned = match.group(0).replace(",", "").replace("$", "").replace(" ", "")
    try:
        return Decimal(cleaned.rstrip("."))
    except InvalidOperation:
        return None


def gsm8k_gold(solution: str) -> str:
    """The gold answer of a GSM8K solution: the number after ``####``, canonical form.

    Raises:
        ValueError: the solution has no ``#### <number>`` line.
    """
    _, sep, tail = solution.rpartition("####")
    value = parse_number(tail) if sep else None
    if value is None:
        raise ValueError(f"GSM8K solution has no '#### <number>' answer: {solution[-80:]!r}")
    return format_decimal(value)


def format_decimal(value: Decimal) -> str:
    """``Decimal('18.50')`` -> ``'18.5'``; ``Decimal('1E+3')`` -> ``'1000'``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def gsm8k_prediction(text: str) -> Decimal | None:
    """The number a response commits to: after its last ``####``, else in its last
    ``\\boxed{}``, else the last number it writes."""
    _, sep, tail = text.rpartition("####")
    if sep:
        return parse_number(tail)
    boxed = last_boxed(text)
    if boxed is not None:
        return parse_number(boxed)
    numbers = _NUMBER.findall(text)
    return parse_number(numbers[-1]) if numbers else None
