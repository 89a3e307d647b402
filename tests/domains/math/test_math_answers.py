"""Final-answer extraction and equivalence on MATH- and GSM8K-style answers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dataenvgym.domains.math.answers import (
    gsm8k_gold,
    gsm8k_prediction,
    is_parseable,
    last_boxed,
    math_equal,
)


@pytest.mark.parametrize(
    ("text", "boxed"),
    [
        ("so $x = \\boxed{2}$.", "2"),
        ("first \\boxed{1}, then \\boxed{\\frac{3}{4}}", "\\frac{3}{4}"),
        (
            "nested $\\boxed{\\left(\\frac{1}{2}, \\sqrt{3}\\right)}$",
            "\\left(\\frac{1}{2}, \\sqrt{3}\\right)",
        ),
        ("\\fbox{7}", "7"),
        ("the answer is $\\boxed 5$.", "5"),
        ("no box here: 42", None),
        ("unbalanced \\boxed{\\frac{1}{2}", None),
    ],
)
def test_last_boxed(text: str, boxed: str | None) -> None:
    assert last_boxed(text) == boxed


@pytest.mark.parametrize(
    ("gold", "prediction"),
    [
        ("\\frac{1}{2}", "The answer is $\\boxed{0.5}$."),  # fraction = decimal
        ("\\frac{1}{2}", "$\\boxed{\\dfrac12}$"),  # \dfrac, no braces
        ("\\frac{1}{2}", "\\boxed{1/2}"),  # slash fraction
        ("2\\sqrt{3}", "\\boxed{\\sqrt{12}}"),  # simplified radical
        ("\\frac{\\sqrt{3}}{2}", "\\boxed{\\frac{1}{2}\\sqrt{3}}"),
        ("(-\\infty, 3]", "\\boxed{(-\\infty,3]}"),  # interval, spacing
        ("10\\text{ cm}", "\\boxed{10}"),  # units dropped
        ("90^\\circ", "\\boxed{90}"),  # degrees
        ("10\\%", "\\boxed{10}"),  # percent
        ("\\$18.90", "\\boxed{18.9}"),  # currency, trailing zero
        ("x+x", "\\boxed{2x}"),  # equivalent expression (cheap: no expansion to time out)
        ("1,2", "\\boxed{2,1}"),  # unordered solutions
        ("\\text{(C)}", "\\boxed{C}"),  # multiple choice letter
    ],
)
def test_equivalent_forms_are_correct(gold: str, prediction: str) -> None:
    assert math_equal(gold, prediction)


@pytest.mark.parametrize(
    ("gold", "prediction"),
    [
        ("(-\\infty, 3]", "\\boxed{(-\\infty,3)}"),  # open vs closed end
        ("\\frac{1}{2}", "\\boxed{\\frac{1}{3}}"),
        ("2\\sqrt{3}", "\\boxed{\\sqrt{3}}"),
        ("3", "\\boxed{4}"),
        ("3", ""),
        ("3", "I do not know."),
    ],
)
def test_different_answers_are_wrong(gold: str, prediction: str) -> None:
    assert not math_equal(gold, prediction)


def test_prediction_without_a_box_falls_back_to_its_last_expression() -> None:
    assert math_equal("\\frac{1}{2}", "Halving gives $\\frac{1}{2}$")


def test_parseable_answers() -> None:
    assert is_parseable("\\frac{1}{2}")
    assert not is_parseable("")


def test_gsm8k_gold_and_prediction() -> None:
    assert gsm8k_gold("2 + 3 = <<2+3=5>>5 apples.\n#### 1,545") == "1545"
    assert gsm8k_gold("#### 18.50") == "18.5"
    assert gsm8k_gold("#### -3") == "-3"
    with pytest.raises(ValueError, match="####"):
        gsm8k_gold("The answer is 5.")
    assert gsm8k_prediction("... so she earns $1,545.\n#### 1545") == Decimal(1545)
    assert gsm8k_prediction("The answer is \\boxed{72}.") == Decimal(72)
    assert gsm8k_prediction("First 3, then 4, so 12 in total.") == Decimal(12)
    assert gsm8k_prediction("no number") is None
