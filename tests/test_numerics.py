from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dataenvgym.numerics import (
    PORTABLE_ENVIRONMENT,
    board_numerics,
    describe,
    is_x86,
    numerics_environment,
    runs_with,
    same_numerics,
    started_with,
)

x86_only = pytest.mark.skipif(not is_x86(), reason="the AVX2 cap is for x86 machines")


def _child_numerics() -> dict[str, str]:
    """What a fresh Python process started from this one's environment computes with."""
    code = "import json; from dataenvgym.numerics import describe; print(json.dumps(describe()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    described: dict[str, str] = json.loads(out.stdout)
    return described


@x86_only
def test_a_process_started_with_portable_numerics_computes_with_avx2() -> None:
    with started_with("portable"):
        portable = _child_numerics()
    with started_with("native"):
        native = _child_numerics()
    assert portable["cpu_capability"] == "AVX2"
    assert "ATEN_CPU_CAPABILITY=avx2" in portable["caps"]
    assert "caps" not in native  # native: the machine's own widest set, no caps
    assert native["cpu_capability"] in {"AVX2", "AVX512"}
    # The board's expectation is what the portable child really ran with.
    assert same_numerics(portable, board_numerics("portable"))
    assert board_numerics("native") is None


def test_the_caps_are_put_back_after_the_block() -> None:
    environ = {"ATEN_CPU_CAPABILITY": "default", "PATH": "/bin"}
    with started_with("native", environ):
        assert "ATEN_CPU_CAPABILITY" not in environ and environ["PATH"] == "/bin"
    assert environ == {"ATEN_CPU_CAPABILITY": "default", "PATH": "/bin"}
    with started_with("portable", environ):
        assert {k: environ[k] for k in numerics_environment("portable")} == (
            numerics_environment("portable")
        )
    assert environ == {"ATEN_CPU_CAPABILITY": "default", "PATH": "/bin"}


@x86_only
def test_this_test_session_runs_with_portable_numerics() -> None:
    # conftest sets them before torch starts, so boards here run in this process.
    assert runs_with("portable") and not runs_with("native")
    assert describe()["cpu_capability"] == "AVX2"
    assert set(PORTABLE_ENVIRONMENT) <= set(describe()["caps"].replace("=", ",").split(","))


def test_runs_pair_only_with_the_same_torch_and_instruction_set() -> None:
    avx2 = {"torch": "2.13.0", "cpu_capability": "AVX2", "machine": "x86_64"}
    assert same_numerics(avx2, {**avx2, "machine": "AMD64", "caps": "MKL_CBWR=AVX2"})
    assert not same_numerics(avx2, {**avx2, "cpu_capability": "AVX512"})
    assert not same_numerics(avx2, {**avx2, "torch": "2.12.0"})
    assert same_numerics(None, avx2)  # a run from before numerics were kept: unknown
