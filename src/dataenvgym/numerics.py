"""Floating-point numerics that are the same on every x86 machine.

A seed fixes every random draw of an episode, but not the order in which the CPU's vector
units add floating-point numbers: PyTorch, MKL and oneDNN each pick the widest instruction
set the machine has (AVX-512 or AVX2), and sums in another order round differently. Training
a small student amplifies that last bit. Measured on this project's arithmetic Skill-Tree
episode (no-state, seed 0, same code and torch): test accuracy 0.447 on an AVX-512 machine and
0.495 on an AVX2 one, a larger difference than most teachers make. Episodes of one seed are
only *paired* (agent, no-state and oracle on the same student) when they ran with the same
numerics.

Portable numerics cap the three libraries at AVX2, which every x86-64 server of the last ten
years has: the same AVX-512 machine then reproduces the AVX2 machine's episode to the last
digit (0.3445, 0.4325, 0.4815, 0.511, 0.495 on both). The variables are read when the
libraries start, so they must be in the environment of a fresh process (``dataenvgym
leaderboard`` sets them in its worker processes, ``dataenvgym run --numerics portable`` in
the process it runs the episode in: :func:`call_with`); ``describe`` says what a process
runs with.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any, Literal, TypeVar

T = TypeVar("T")

#: ``portable``: capped at AVX2 (boards from different x86 machines pair); ``native``: the
#: widest instruction set of this machine (its own numbers only).
Numerics = Literal["portable", "native"]

#: What decides the bits of a trained model, of what :func:`describe` writes: runs pair when
#: these agree (the machine's name and the caps that got there do not matter).
PAIRING_KEYS = ("torch", "cpu_capability")

#: The variables that cap PyTorch's own kernels, MKL's BLAS and oneDNN's at AVX2.
PORTABLE_ENVIRONMENT: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}


def is_x86() -> bool:
    """Whether this machine is x86-64 (where the AVX2 cap means anything)."""
    return platform.machine().lower() in {"x86_64", "amd64"}


def numerics_environment(numerics: Numerics) -> dict[str, str]:
    """The environment variables a fresh process needs to run with ``numerics``.

    Empty for ``native`` and off x86 (an ARM machine has its own numerics either way).
    """
    if numerics == "native" or not is_x86():
        return {}
    return dict(PORTABLE_ENVIRONMENT)


@contextmanager
def started_with(
    numerics: Numerics, environ: MutableMapping[str, str] | None = None
) -> Iterator[None]:
    """Within the block, processes started from ``environ`` (default ``os.environ``) run
    with ``numerics``: the caps are set (``portable``) or cleared (``native``), and put back
    as they were afterwards."""
    target = os.environ if environ is None else environ
    before = {name: target.get(name) for name in PORTABLE_ENVIRONMENT}
    for name in PORTABLE_ENVIRONMENT:
        target.pop(name, None)
    target.update(numerics_environment(numerics))
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value


def runs_with(numerics: Numerics) -> bool:
    """Whether this process already computes with ``numerics`` (it started with their
    environment), so that episodes may run here rather than in a fresh process."""
    wanted = numerics_environment(numerics)
    return all(os.environ.get(name) == wanted.get(name) for name in PORTABLE_ENVIRONMENT)


def call_with(numerics: Numerics | None, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` computed with ``numerics``: here, where this process already runs
    with them (or ``numerics`` is None), else in a fresh process started with their
    environment (``function`` and its arguments must pickle; so do its result and errors).
    """
    if numerics is None or runs_with(numerics):
        return function(*args)
    with (
        started_with(numerics),
        ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool,
    ):
        return pool.submit(function, *args).result()


def board_numerics(numerics: Numerics) -> dict[str, str] | None:
    """The numerics every run of a board must have been made with, as :func:`describe`
    writes them: portable ones on x86; None (any) for ``native``, whose bits depend on the
    machine a run happened to be on."""
    if not numerics_environment(numerics):
        return None
    return {"torch": _torch_version(), "cpu_capability": "AVX2"}


def _torch_version() -> str:
    import torch

    return torch.__version__.split("+")[0]


def describe() -> dict[str, str]:
    """What this process computes with: the torch version, the instruction set its kernels
    use, and the caps in its environment (kept in every run summary)."""
    import torch

    caps = {name: os.environ[name] for name in PORTABLE_ENVIRONMENT if name in os.environ}
    return {
        "torch": _torch_version(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        **({"caps": ",".join(f"{k}={v}" for k, v in sorted(caps.items()))} if caps else {}),
    }


def numerics_key() -> str:
    """What decides the bits of a trained model here: torch's version and instruction set
    (part of the base-student cache key, so a base pretrained with other numerics is not
    reused)."""
    described = describe()
    return "/".join(described[k] for k in PAIRING_KEYS)


def same_numerics(a: dict[str, str] | None, b: dict[str, str] | None) -> bool:
    """Whether two runs' numerics (as :func:`describe` wrote them) give the same bits: the
    same torch and the same instruction set. An unrecorded side (a run from before numerics
    were kept) cannot be told apart and counts as the same."""
    if not a or not b:
        return True
    return all(a.get(k) == b.get(k) for k in PAIRING_KEYS)
