"""The built-in code domain: splits, pass@1 scoring and verification in the sandbox."""

from __future__ import annotations

import random
import sys
from collections import Counter

import pytest

from dataenvgym.domains.code import domain as code_domain
from dataenvgym.domains.code.domain import CodeConfig, CodeDomain
from dataenvgym.protocols import BatchDomain, ProceduralDomain
from dataenvgym.types import TrainingDatum

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")


@pytest.fixture(scope="module")
def domain() -> CodeDomain:
    return CodeDomain(CodeConfig(val_per_subskill=3, test_per_subskill=3))


def test_protocols_and_catalogue(domain: CodeDomain) -> None:
    assert isinstance(domain, ProceduralDomain) and isinstance(domain, BatchDomain)
    skills = domain.skills()
    assert {s.name for s in skills} >= {
        "filtering",
        "mapping",
        "aggregation",
        "strings",
        "conditionals",
        "index_loops",
        "counting",
        "sorting",
    }
    keys = {f"{s.name}/{sub}" for s in skills for sub in s.subskills}
    assert set(domain.pretraining_mix()) == keys
    mix = domain.pretraining_mix()
    assert max(mix.values()) >= 10 * min(mix.values())  # skewed on purpose


def test_splits_are_balanced_disjoint_and_deterministic(domain: CodeDomain) -> None:
    val, test = domain.splits(0)
    assert Counter((i.skill, i.subskill) for i in val) == Counter(
        (i.skill, i.subskill) for i in test
    )
    assert set(Counter((i.skill, i.subskill) for i in val).values()) == {3}
    assert not {i.prompt for i in val} & {i.prompt for i in test}
    assert [i.prompt for i in domain.splits(0)[0]] == [i.prompt for i in val]
    assert [i.prompt for i in domain.splits(1)[0]] != [i.prompt for i in val]
    assert all(i.metadata["arg"] in ("a", "s", "x") for i in val)


def test_pass_at_1_and_partial_credit(domain: CodeDomain) -> None:
    val, _ = domain.splits(0)
    threshold = next(i for i in val if i.prompt.startswith("keep items above"))
    n = int(threshold.prompt.rsplit(" ", 1)[1])
    predictions = [
        threshold.answer,  # the reference
        f"[y for y in a if y>{n}]",  # another correct spelling
        f"[x for x in a if x>={n}]",  # off by one: some tests fail
        "[x for x in a if",  # a syntax error
        "__import__('os')._exit(0)",  # exits early: never a pass
        f"list(filter(lambda v: v > {n}, a))",  # equivalent rewrite
    ]
    scores = domain.score_many([threshold] * len(predictions), predictions)
    assert [s.correct for s in scores] == [True, True, False, False, False, True]
    assert 0.0 < scores[2].partial < 1.0
    assert scores[3].partial == 0.0 and scores[4].partial == 0.0
    assert domain.score(threshold, threshold.answer).correct


def test_every_subskill_generates_data_that_verifies(domain: CodeDomain) -> None:
    rng = random.Random(0)
    data = [
        d
        for s in domain.skills()
        for sub in s.subskills
        for d in domain.generate(s.name, sub, 2, rng)
    ]
    units = sum(len(s.subskills) for s in domain.skills())
    assert units == 20 and len(data) == 2 * units and len({d.id for d in data}) == len(data)
    assert domain.verify_many(data) == [None] * len(data)


def test_wrong_unknown_and_mislabelled_data_fail_verification(domain: CodeDomain) -> None:
    def datum(
        prompt: str, response: str, skill: str | None = None, subskill: str | None = None
    ) -> TrainingDatum:
        return TrainingDatum(
            id=prompt,
            domain="code",
            prompt=prompt,
            response=response,
            skill=skill,
            subskill=subskill,
        )

    reasons = domain.verify_many(
        [
            datum("keep items above 5", "[x for x in a if x>5]"),
            datum("keep items above 5", "[x for x in a if x>6]"),
            datum("reverse the list", "a[::-1]"),
            datum("keep items above 5", "[x for x in a if x>5]", skill="mapping", subskill="scale"),
            datum("sort by remainder mod 7", "sorted(a)"),
        ]
    )
    assert reasons[0] is None
    assert reasons[1] is not None and "passes" in reasons[1] and "checks" in reasons[1]
    assert reasons[2] is not None and "not a task" in reasons[2]
    assert reasons[3] is not None and "labelled mapping/scale" in reasons[3]
    assert reasons[4] is not None


def test_verdicts_are_memoised(domain: CodeDomain, monkeypatch: pytest.MonkeyPatch) -> None:
    val, _ = domain.splits(0)
    domain.score_many(val[:4], [i.answer for i in val[:4]])
    calls: list[int] = []
    real = code_domain.run_test_batch

    def counting(jobs, *args, **kwargs):
        calls.append(len(jobs))
        return real(jobs, *args, **kwargs)

    monkeypatch.setattr(code_domain, "run_test_batch", counting)
    again = domain.score_many(val[:5], [i.answer for i in val[:5]])
    assert all(s.correct for s in again)
    assert calls == [1]  # only the fifth, new answer ran


def test_a_repeated_answer_needs_neither_checks_nor_a_run(
    domain: CodeDomain, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, test = domain.splits(1)
    items = test[:3]
    answers = [items[0].answer, "0", items[2].answer]
    first = domain.score_many(items, answers)
    built: list[str] = []
    real = code_domain._prepared_checks

    def counting(prompt: str, count: int) -> object:
        built.append(prompt)
        return real(prompt, count)

    monkeypatch.setattr(code_domain, "_prepared_checks", counting)
    again = domain.score_many(items, answers)
    assert again == first and not built  # every pair was judged before
    other = domain.score_many(items[:1], ["x"])  # a new answer to a known prompt is judged
    assert built == [items[0].prompt] and not other[0].correct
    assert first[0].correct and not first[1].correct


def test_an_answer_the_parser_warns_about_is_judged_without_a_warning() -> None:
    import warnings

    from dataenvgym.domains.code.domain import solution_source

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a SyntaxWarning escaping would fail the test
        source = solution_source("x", "1if x>2 else 0")
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # compiling it here warns again
        exec(source, namespace)
    assert namespace["f"](3) == 1  # type: ignore[operator]
