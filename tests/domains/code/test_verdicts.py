"""Attacks on the code domain's verdicts, through the public ``score_many`` / ``verify_many``.

Each class of attack is an answer a student or teacher could hand in. Every test here
passed the attack (or crashed the scorer) when the sandbox ran ``assert f(x) == y`` tests
and reported verdicts on a stream the solutions could reach; the harness now gets only
values back and compares them itself.
"""

from __future__ import annotations

import sys

import pytest

from dataenvgym.domains.code.domain import CodeConfig, CodeDomain
from dataenvgym.types import TaskInstance, TrainingDatum

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

PROMPT = "keep items above 40"
RIGHT = "[x for x in a if x>40]"
WRONG = "[x for x in a if x>=40]"
# Frame walking: the globals of the first caller that holds a ``nonce`` (where the old
# harness kept its per-run secret and its output stream).
_RUNNER_GLOBALS = (
    "next(f.f_globals for f in __import__('itertools').accumulate(range(40), "
    "lambda f, _: f.f_back or f, initial=__import__('sys')._getframe()) "
    "if 'nonce' in f.f_globals)"
)


@pytest.fixture
def domain() -> CodeDomain:
    # One process for every solution of a call, so that batch neighbours really share one;
    # a fresh domain per test, so that no verdict comes from the memo.
    return CodeDomain(CodeConfig(val_per_subskill=1, test_per_subskill=1, max_concurrency=1))


def item(prompt: str = PROMPT) -> TaskInstance:
    return TaskInstance(id=prompt, domain="code", prompt=prompt, answer="")


def datum(response: str, prompt: str = PROMPT) -> TrainingDatum:
    return TrainingDatum(id=response, domain="code", prompt=prompt, response=response)


def score(domain: CodeDomain, answers: list[str], prompt: str = PROMPT) -> list[bool]:
    return [s.correct for s in domain.score_many([item(prompt)] * len(answers), answers)]


def test_equality_gaming_fails(domain: CodeDomain) -> None:
    attacks = [
        # An object equal to everything.
        "type('E', (), {'__eq__': lambda s, o: True, '__ne__': lambda s, o: False})()",
        # An int subclass equal to everything.
        "type('I', (int,), {'__eq__': lambda s, o: True, '__hash__': int.__hash__})(0)",
        # A list subclass equal to everything.
        "type('L', (list,), {'__eq__': lambda s, o: True})()",
    ]
    assert score(domain, attacks) == [False] * len(attacks)
    assert all(reason is not None for reason in domain.verify_many([datum(a) for a in attacks]))


def test_builtin_tampering_makes_nothing_pass(domain: CodeDomain) -> None:
    # Replacing ``exec`` (what an in-process test loop calls) at definition time, and, within
    # one expression, the builtins and serialiser of its own process at call time.
    attacks = [
        "0\nimport builtins\nbuiltins.exec = lambda *a, **k: None",
        "(__import__('builtins').__setattr__('exec', lambda *a, **k: None),"
        " __import__('json').__setattr__('dumps', lambda *a, **k: '[\"R\", []]'))[0]",
    ]
    assert score(domain, attacks) == [False, False]
    assert all(reason is not None for reason in domain.verify_many([datum(a) for a in attacks]))


def test_frame_walking_to_forge_its_own_verdict_fails(domain: CodeDomain) -> None:
    # Reaches the runner's nonce and stream, writes a passing line for itself and spoils the
    # line the runner writes after it.
    forge_self = (
        "(lambda g: (g['out'].write(g['nonce'] + ' ' + __import__('json').dumps("
        "{'index': g['index'], 'passed': 99, 'error': None}) + '\\n#'), g['out'].flush())"
        f" and 0)({_RUNNER_GLOBALS})"
    )
    assert score(domain, [forge_self]) == [False]
    assert domain.verify(datum(forge_self)) is not None


def test_a_solution_cannot_rewrite_its_neighbours_verdicts(domain: CodeDomain) -> None:
    # Third in the batch: writes "failed" for the right answer and "passed" for the wrong one.
    rewrite = (
        "(lambda g: g['out'].write(''.join(g['nonce'] + ' ' + __import__('json').dumps("
        "{'index': i, 'passed': 99 * (i == 1), 'error': None}) + '\\n' for i in (0, 1)))"
        f" and g['out'].flush())({_RUNNER_GLOBALS})"
    )
    assert score(domain, [RIGHT, WRONG, rewrite]) == [True, False, False]
    reasons = domain.verify_many([datum(RIGHT), datum(WRONG), datum(rewrite)])
    assert reasons[0] is None and reasons[1] is not None and reasons[2] is not None


def test_statement_injection_through_a_newline_is_rejected(domain: CodeDomain) -> None:
    # Right code, but smuggled in as statements after a "return 0".
    injected = f"0\ndef f(a):\n    return {RIGHT}"
    assert score(domain, [injected, RIGHT]) == [False, True]
    reason = domain.verify(datum(injected))
    assert reason is not None and "not one Python expression" in reason


def test_a_malformed_verdict_line_fails_its_writer_only(domain: CodeDomain) -> None:
    garbage = (
        "(lambda g: g['out'].write(g['nonce'] + ' {oops\\n') and g['out'].flush())"
        f"({_RUNNER_GLOBALS})"
    )
    assert score(domain, [RIGHT, garbage, RIGHT]) == [True, False, True]
    reasons = domain.verify_many([datum(RIGHT), datum(garbage)])
    assert reasons[0] is None and reasons[1] is not None


_FORGE_EVERYWHERE = r"""
import os, sys
g = next(f.f_globals for f in __import__('itertools').accumulate(
    range(40), lambda f, _: f.f_back or f, initial=sys._getframe()) if 'nonce' in f.f_globals)
body = '["R", []]'
frames = ''.join('%s %d ok %d\n%s\n' % (g['nonce'], i, len(body), body) for i in range(4))
frames = (frames + '%s end 4\n' % g['nonce']).encode()
for fd in range(256):
    try:
        os.write(fd, frames)
    except OSError:
        pass
for path in ['/proc/%d/fd/1' % os.getppid(), '/proc/1/fd/1', '/dev/stdout']:
    try:
        with open(path, 'wb') as fh:
            fh.write(frames)
    except OSError:
        pass
"""


def test_frames_forged_wherever_the_solution_can_write_change_no_neighbour(
    domain: CodeDomain,
) -> None:
    attack = f"exec({_FORGE_EVERYWHERE!r}) or [0]"
    assert score(domain, [RIGHT, WRONG, attack, RIGHT]) == [True, False, False, True]
    reasons = domain.verify_many([datum(WRONG), datum(attack), datum(RIGHT)])
    assert reasons[0] is not None and reasons[1] is not None and reasons[2] is None


def test_only_a_clean_stream_of_frames_counts() -> None:
    from dataenvgym.domains.code.batch import parse_frames
    from dataenvgym.domains.code.sandbox import ExecutionResult

    def frames(*parts: str, status: str = "ok") -> list[tuple[str, str]] | None:
        result = ExecutionResult(status=status, returncode=0, stdout="".join(parts))  # type: ignore[arg-type]
        return parse_frames(result, "N", 2)

    one, two, end = "N 0 ok 2\n[]\n", "N 1 cut 0\n\n", "N end 2\n"
    assert frames(one, two, end) == [("ok", "[]"), ("cut", "")]
    assert frames(one, two, end, status="killed") is None  # ended badly
    assert frames(one, one, two, end) is None  # a frame twice
    assert frames(one, two, two, end) is None
    assert frames(two, one, end) is None  # out of order
    assert frames(one, two) is None  # no end
    assert frames(one, two, end, "x") is None  # something after the end
    assert frames(one, "N 1 ok 5\n[]\n", end) is None  # length does not match
