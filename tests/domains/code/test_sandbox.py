"""Tests of the code sandbox: correct behaviour, and an attack suite that must stay contained.

Every attack is scored as a failure and leaves the harness able to run the next job. Limits
are small (2 s) to keep the file fast; the fork bomb runs only inside the sandbox, where the
process limit (under a dedicated uid when we are root) and the PID namespace contain it.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataenvgym.domains.code.sandbox import (
    ExecutionResult,
    PythonJob,
    SandboxConfig,
    StdinTestsJob,
    TestOutcome,
    TestsJob,
    normalize_output,
    run_many,
    run_python,
    run_stdin_tests,
    run_tests,
    sandbox_capabilities,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

CFG = SandboxConfig(
    timeout_s=2.0,
    cpu_seconds=2,
    memory_mb=256,
    max_output_bytes=64 * 1024,
    max_processes=8,
    max_concurrency=4,
    niceness=10,  # the attacks burn CPU; keep them behind other work on the machine
)
SECRET = "sk-secret-dataenvgym-test"
ADD = "def add(a, b):\n    return a + b\n"
FORK_BOMB = (
    "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
)
ADD_TESTS = ["assert add(1, 2) == 3", "assert add(5, 0) == 5"]


def _processes_with_home(home: str) -> list[int]:
    """PIDs whose environment has HOME=home (each sandbox run has a unique HOME)."""
    needle = f"HOME={home}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            data = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in data:
            found.append(int(entry))
    return found


def _home_of(result: ExecutionResult) -> str:
    """The sandbox's working directory, printed by the attack code as its first line."""
    first = result.stdout.splitlines()[0]
    assert first.startswith("HOME "), result
    return first.removeprefix("HOME ")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on 127.0.0.1 that no sandboxed code may reach."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        srv.setblocking(False)
        yield srv


def _accepted_any(srv: socket.socket) -> bool:
    try:
        conn, _ = srv.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


# ------------------------------------------------------------------------------------------
# Correct behaviour


def test_correct_solution_passes() -> None:
    outcome = run_tests(ADD, ADD_TESTS, config=CFG)
    assert outcome.passed, outcome
    assert outcome.n_tests == outcome.n_passed == 2
    assert outcome.reason is None and outcome.execution.status == "ok"


def test_wrong_solution_fails_with_the_assertion_visible() -> None:
    wrong = "def add(a, b):\n    return a - b\n"
    outcome = run_tests(wrong, [*ADD_TESTS, "assert add(2, 2) == 4, 'two plus two'"], config=CFG)
    assert not outcome.passed
    assert [t.passed for t in outcome.tests] == [False, True, False]
    assert outcome.tests[0].source == "assert add(1, 2) == 3"
    assert outcome.tests[0].error == "AssertionError"
    assert outcome.tests[2].error == "AssertionError: two plus two"
    # The traceback, with the failing line, reaches stderr.
    assert "assert add(1, 2) == 3" in outcome.execution.stderr
    assert outcome.execution.status == "error"


def test_test_string_is_split_into_statements() -> None:
    tests = (
        "import math\n"
        "def check(candidate):\n"
        "    assert candidate(2, 3) == 5\n"
        "check(add)\n"
        "assert add(1, 1) == 3\n"
        "assert math.isclose(add(0.1, 0.2), 0.3)\n"
    )
    outcome = run_tests(ADD, tests, config=CFG)
    assert [(t.kind, t.passed) for t in outcome.tests] == [
        ("setup", True),
        ("setup", True),
        ("test", True),
        ("test", False),
        ("test", True),
    ]
    assert outcome.n_tests == 3 and outcome.n_passed == 2 and not outcome.passed


def test_solution_that_raises_fails_every_test() -> None:
    outcome = run_tests("def add(a, b):\n    return a +\n", ADD_TESTS, config=CFG)
    assert not outcome.passed
    assert outcome.reason is not None and "SyntaxError" in outcome.reason
    assert all(not t.passed and "not run" in (t.error or "") for t in outcome.tests)


def test_no_tests_is_not_a_pass() -> None:
    assert not run_tests(ADD, [], config=CFG).passed
    assert not run_tests(ADD, "x = 1\n", config=CFG).passed


def test_solution_main_block_does_not_run_under_tests() -> None:
    solution = ADD + "if __name__ == '__main__':\n    print(input())\n"
    assert run_tests(solution, ADD_TESTS, config=CFG).passed


def test_run_python_basics() -> None:
    result = run_python("import sys\nprint(sys.stdin.read().upper())", stdin="abc", config=CFG)
    assert result.ok and result.stdout == "ABC\n" and result.returncode == 0
    failed = run_python("raise ValueError('boom')", config=CFG)
    assert failed.status == "error" and failed.returncode == 1
    assert "ValueError: boom" in failed.stderr and '"<main>", line 1' in failed.stderr
    assert run_python("exit(3)", config=CFG).returncode == 3  # exit() exists despite -S


def test_environment_is_minimal_and_hashing_deterministic() -> None:
    code = "import os\nprint(sorted(os.environ))\nprint(hash('dataenvgym'))\nprint(os.getcwd())"
    first, second = run_python(code, config=CFG), run_python(code, config=CFG)
    env_keys, hash1, cwd = first.stdout.splitlines()
    allowed = ["HOME", "LANG", "LC_ALL", "PATH", "PYTHONHASHSEED", "PYTHONIOENCODING"]
    assert env_keys == str(sorted([*allowed, "PYTHONUTF8", "TMPDIR"]))
    assert second.stdout.splitlines()[1] == hash1  # PYTHONHASHSEED=0 reaches the child
    assert not Path(cwd).exists()  # the temporary directory is removed afterwards


def test_stdin_tests_pass_and_fail() -> None:
    program = "n = int(input())\nprint(*range(n))\n"
    cases = [("3\n", "0 1 2"), ("1\n", "0\n\n"), ("2\n", "  0   1  \r\n")]
    assert run_stdin_tests(program, cases, config=CFG).passed

    outcome = run_stdin_tests(program, [("2\n", "0 1"), ("3\n", "0 1 3"), ("1\n", "0")], config=CFG)
    assert not outcome.passed
    assert [t.passed for t in outcome.tests] == [True, False, False]
    assert outcome.tests[1].error == "wrong output" and outcome.tests[1].actual == "0 1 2"
    assert outcome.tests[2].error is not None and "not run" in outcome.tests[2].error

    crash = run_stdin_tests("raise SystemExit(2)", [("", "")], config=CFG)
    assert not crash.passed and crash.execution.returncode == 2
    assert not run_stdin_tests(program, [], config=CFG).passed


def test_normalize_output() -> None:
    assert normalize_output("\n a  b \r\n\nc\t\n\n") == "a b\n\nc"
    assert normalize_output("") == ""


def test_file_operations_inside_the_work_dir_work() -> None:
    code = (
        "import os, pathlib, shutil, tempfile\n"
        "os.makedirs('a/b')\n"
        "pathlib.Path('a/b/f.txt').write_text('hello')\n"
        "os.rename('a/b/f.txt', 'a/g.txt')\n"
        "shutil.copy('a/g.txt', 'h.txt')\n"
        "with tempfile.NamedTemporaryFile('w', delete=False) as fh:\n"
        "    fh.write('t')\n"
        "os.remove(fh.name)\n"
        "os.symlink('h.txt', 'link')\n"
        "os.unlink('link')\n"
        "shutil.rmtree('a')\n"
        "print(sorted(os.listdir('.')), open('h.txt').read())\n"
    )
    result = run_python(code, config=CFG)
    assert result.ok, result.stderr
    assert result.stdout == "['h.txt'] hello\n"


def test_capabilities_are_reported() -> None:
    caps = sandbox_capabilities(CFG)
    assert Path(caps.python_executable).exists()
    if caps.running_as_root:
        # On the machines we develop on, root can always drop to a sandbox uid.
        assert caps.privilege_drop and caps.nproc_limit_enforced, caps.notes


# ------------------------------------------------------------------------------------------
# Attacks


def _assert_contained(outcome: TestOutcome) -> None:
    assert not outcome.passed, outcome
    assert outcome.execution.duration_s < CFG.timeout_s + 2.0


def test_infinite_loop_times_out() -> None:
    start = time.monotonic()
    outcome = run_tests(
        "def f():\n    return 1\nwhile True:\n    pass\n", ["assert f() == 1"], config=CFG
    )
    _assert_contained(outcome)
    assert outcome.execution.status == "timeout"
    assert time.monotonic() - start < CFG.timeout_s + 2.0


def test_cpu_limit_ends_a_busy_loop_before_the_wall_clock() -> None:
    cfg = CFG.model_copy(update={"timeout_s": 8.0, "cpu_seconds": 1})
    result = run_python("while True:\n    pass\n", config=cfg)
    assert result.status == "timeout" and result.duration_s < 5.0


def test_memory_bomb_is_stopped() -> None:
    outcome = run_tests(
        "x = bytearray(8 * 1024**3)\ndef f():\n    return 1\n", ["assert f()"], config=CFG
    )
    _assert_contained(outcome)
    assert outcome.execution.status == "memory"
    grow = "blocks = []\nwhile True:\n    blocks.append(bytearray(32 * 1024**2))\n"
    assert run_python(grow, config=CFG).status == "memory"


def test_fork_bomb_is_contained_and_leaves_nothing_behind() -> None:
    bomb = "import os\nprint('HOME', os.getcwd(), flush=True)\n" + FORK_BOMB
    result = run_python(bomb, config=CFG)
    assert result.status in ("timeout", "killed"), result
    assert _processes_with_home(_home_of(result)) == []
    # The harness is fine afterwards.
    assert run_tests(ADD, ADD_TESTS, config=CFG).passed


def test_processes_that_leave_the_group_are_killed() -> None:
    code = (
        "import os, time\n"
        "print('HOME', os.getcwd(), flush=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    os.close(1)\n"
        "    os.close(2)\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
    )
    result = run_python(code, config=CFG)
    assert result.ok and result.duration_s < CFG.timeout_s
    time.sleep(0.1)
    assert _processes_with_home(_home_of(result)) == []


def test_process_limit_binds() -> None:
    code = (
        "import os, time\n"
        "n = 0\n"
        "for _ in range(50):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(5)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "    except OSError:\n"
        "        break\n"
        "print(n)\n"
    )
    caps = sandbox_capabilities(CFG)
    if not caps.nproc_limit_enforced:
        pytest.skip("RLIMIT_NPROC does not bind here: " + "; ".join(caps.notes))
    result = run_python(code, config=CFG)
    assert result.ok, result
    forked = int(result.stdout)
    if caps.privilege_drop:
        assert forked < CFG.max_processes  # the sandbox uid starts with no other tasks
    else:
        # Not root: the budget is "tasks of this user at launch + max_processes", and that
        # count includes tasks of earlier runs still exiting, so allow some slack.
        assert forked < 2 * CFG.max_processes


def test_writes_outside_the_work_dir_are_refused(tmp_path: Path) -> None:
    protected = tmp_path / "pwned.txt"  # in a root-only directory when we are root
    world = Path("/tmp") / f"dataenvgym-pwned-{uuid.uuid4().hex}.txt"  # world-writable dir
    caps = sandbox_capabilities(CFG)
    attempts = {
        "open": "open({t!r}, 'w').write('x')",
        "os_open": "os.close(os.open({t!r}, os.O_CREAT | os.O_WRONLY))",
        "pathlib": "pathlib.Path({t!r}).write_text('x')",
        "symlink": "os.symlink({t!r}, 'link'); open('link', 'w').write('x')",
        "rename": "open('mine', 'w').write('x'); os.rename('mine', {t!r})",
        "shell": "subprocess.run(['sh', '-c', 'echo x > {t}'])",
        "system": "os.system('echo x > {t}')",
    }
    # Native code bypasses the audit hook; only kernel layers stop it: the read-only mount
    # namespace everywhere, the sandbox uid's permissions where the target dir is root-only.
    native = {
        # (a failing libc call returns -1; turn that into an exception)
        "ctypes": "ctypes.CDLL(None).creat({t!r}.encode(), 0o644) >= 0 or 1 / 0",
        "remount": "ctypes.CDLL(None).mount(None, b'/', None, 32 | 4096, None) == 0 or 1 / 0",
    }
    lines = ["import ctypes, os, pathlib, subprocess"]
    for target in (protected, world):
        native_ok = "mount" in caps.namespaces or (caps.privilege_drop and target == protected)
        for name, stmt in {**attempts, **(native if native_ok else {})}.items():
            lines += [
                "try:",
                "    " + stmt.format(t=str(target)),
                f"    print('WROTE {name}')",
                "except Exception as exc:",
                f"    print('REFUSED {name}', type(exc).__name__)",
            ]
    result = run_python("\n".join(lines), config=CFG)
    assert "WROTE" not in result.stdout, result.stdout
    assert not protected.exists() and not world.exists()

    # Scored as a failure when the solution does not catch the refusal.
    attack = f"open({str(world)!r}, 'w').write('x')\ndef f():\n    return 1\n"
    _assert_contained(run_tests(attack, ["assert f() == 1"], config=CFG))
    assert not world.exists()


def test_network_is_blocked(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    for address in (("127.0.0.1", port), ("1.1.1.1", 80)):
        attack = (
            f"import socket\nsocket.create_connection({address!r}, timeout=1)\n"
            "def f():\n    return 1\n"
        )
        outcome = run_tests(attack, ["assert f() == 1"], config=CFG)
        _assert_contained(outcome)
        assert outcome.reason is not None and "PermissionError" in outcome.reason
    assert not _accepted_any(listener)


def test_network_namespace_blocks_native_sockets(listener: socket.socket) -> None:
    if "net" not in sandbox_capabilities(CFG).namespaces:
        pytest.skip("no network namespace here; only the audit hook blocks sockets")
    port = listener.getsockname()[1]
    # libc socket()/connect() directly: the audit hook never sees them, the namespace does.
    code = (
        "import ctypes, struct\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = libc.socket(2, 1, 0)\n"
        f"addr = struct.pack('<H', 2) + struct.pack('>H', {port})\n"
        "addr += bytes([127, 0, 0, 1]) + bytes(8)\n"
        "rc = libc.connect(fd, addr, 16)\n"
        "print(fd, rc, ctypes.get_errno())\n"
    )
    result = run_python(code, config=CFG)
    fd, rc, _ = map(int, result.stdout.split())
    assert fd >= 0 and rc == -1
    assert not _accepted_any(listener)


def test_environment_secrets_do_not_reach_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    # A process that had the secret in its initial environment, visible in /proc/<pid>/environ.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": SECRET},
    )
    try:
        time.sleep(0.05)
        code = (
            "import os\n"
            "print('ENV', os.environ.get('OPENAI_API_KEY'))\n"
            "for pid in os.listdir('/proc'):\n"
            "    for path in (f'/proc/{pid}/environ', f'../../proc/{pid}/environ'):\n"
            "        try:\n"
            "            data = open(path, 'rb').read()\n"
            "        except Exception:\n"
            "            continue\n"
            f"        if b'{SECRET}' in data:\n"
            "            print('LEAK', path)\n"
        )
        result = run_python(code, config=CFG)
        assert result.ok, result
        assert SECRET not in result.stdout and "LEAK" not in result.stdout
        attack = "import os\nKEY = os.environ['OPENAI_API_KEY']\ndef f():\n    return 1\n"
        _assert_contained(run_tests(attack, ["assert f() == 1"], config=CFG))
    finally:
        holder.kill()
        holder.wait()


def test_huge_output_is_capped() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_python("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", config=CFG)
    assert result.status == "output_limit" and result.stdout_truncated
    assert len(result.stdout) == CFG.max_output_bytes
    assert result.duration_s < CFG.timeout_s
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024
    noisy = "import sys\nsys.stderr.write('e' * 10**6)\ndef f():\n    return 1\n"
    _assert_contained(run_tests(noisy, ["assert f() == 1"], config=CFG))


@pytest.mark.parametrize(
    "solution",
    [
        "import os\ndef f():\n    return 2\nos._exit(0)\n",
        "import sys\ndef f():\n    return 2\nsys.exit(0)\n",
        "import os\ndef f():\n    os._exit(0)\n",
        "import os\ndef f():\n    print('PASSED', flush=True)\n    os._exit(0)\n",
    ],
    ids=["exit-before-tests", "sys-exit", "exit-inside-test", "fake-pass-banner"],
)
def test_early_exit_is_not_a_pass(solution: str) -> None:
    outcome = run_tests(solution, ["assert f() == 1", "assert f() != 3"], config=CFG)
    _assert_contained(outcome)
    assert all(not t.passed for t in outcome.tests)


def test_segfault_is_contained() -> None:
    result = run_python("import ctypes\nctypes.string_at(0)\n", config=CFG)
    assert result.status == "killed" and result.returncode == -11
    attack = "import ctypes\ndef f():\n    return ctypes.string_at(0)\n"
    _assert_contained(run_tests(attack, ["assert f() == 1"], config=CFG))


def test_all_attacks_in_one_batch_then_the_harness_keeps_going(tmp_path: Path) -> None:
    target = tmp_path / "batch-pwned.txt"
    attacks = {
        "loop": "while True:\n    pass\n",
        "memory": "x = bytearray(8 * 1024**3)\n",
        "fork": FORK_BOMB,
        "write": f"open({str(target)!r}, 'w').write('x')\n",
        "socket": "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)\n",
        "secret": "import os\nos.environ['OPENAI_API_KEY']\n",
        "output": "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
        "exit": "import os\nos._exit(0)\n",
        "segfault": "import ctypes\nctypes.string_at(0)\n",
    }
    jobs: list[PythonJob | TestsJob | StdinTestsJob] = [
        TestsJob(solution=code + "def f():\n    return 1\n", tests=["assert f() == 1"])
        for code in attacks.values()
    ]
    jobs.append(TestsJob(solution=ADD, tests=ADD_TESTS))
    jobs.append(StdinTestsJob(solution="print(int(input()) * 2)", cases=[("21", "42")]))
    jobs.append(PythonJob(code="print('still here')"))
    start = time.monotonic()
    results = run_many(jobs, CFG)
    elapsed = time.monotonic() - start
    *attack_results, good, good_stdin, plain = results
    for name, outcome in zip(attacks, attack_results, strict=True):
        assert isinstance(outcome, TestOutcome)
        assert not outcome.passed, name
    statuses = {
        name: r.execution.status
        for name, r in zip(attacks, attack_results, strict=True)
        if isinstance(r, TestOutcome)
    }
    assert statuses["loop"] == "timeout" and statuses["memory"] == "memory"
    assert statuses["output"] == "output_limit" and statuses["segfault"] == "killed"
    assert isinstance(good, TestOutcome) and good.passed
    assert isinstance(good_stdin, TestOutcome) and good_stdin.passed
    assert isinstance(plain, ExecutionResult) and plain.stdout == "still here\n"
    assert not target.exists()
    # 12 jobs, 4 at a time, two of them 2 s timeouts: concurrency, not serial execution.
    assert elapsed < 3 * CFG.timeout_s
