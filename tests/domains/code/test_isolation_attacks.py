"""Attacks on the code sandbox's OS isolation: one test per class of escape.

Each attack is written the way hostile generated code would try it: through native calls
(``ctypes``) where the in-process audit hook would otherwise stop it, since only the kernel
layers are meant to hold. The suite runs as root and as an unprivileged user (scripts/test.sh
re-runs this file as one); the isolation level of the run is printed in the pytest
summary (tests/conftest.py). A test whose protection the level in force does not
claim is skipped with the reason, never passed.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataenvgym.domains.code.sandbox import SandboxConfig, isolation_report, run_python

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

CFG = SandboxConfig(
    timeout_s=3.0,
    cpu_seconds=3,
    memory_mb=128,
    disk_mb=16,
    max_file_mb=8,
    max_processes=8,
    max_concurrency=2,
    niceness=10,
)
REPORT = isolation_report(CFG)
BWRAP = REPORT.level == "bwrap"
NEEDS_BWRAP = pytest.mark.skipif(
    not BWRAP, reason=f"isolation level {REPORT.level}: {REPORT.filesystem}; {REPORT.proc}"
)


def _token() -> str:
    """A unique process name (``comm`` holds 15 bytes)."""
    return "dg" + uuid.uuid4().hex[:13]


def _named(token: str) -> list[int]:
    """Live (non-zombie) processes named ``token``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            name = Path(f"/proc/{entry}/comm").read_text().strip()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if name == token and state != "Z":
            found.append(int(entry))
    return found


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)


# Native helpers the attacks share: rename the process, open a file bypassing the hook.
NATIVE = """
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
def rename(token):
    libc.prctl(15, ctypes.c_char_p(token.encode()), 0, 0, 0)  # PR_SET_NAME
def native_read(path):
    fd = libc.open(path.encode(), 0)
    if fd < 0:
        return None
    data = os.read(fd, 1 << 16)
    os.close(fd)
    return data
"""


# ------------------------------------------------------------------------------------------
# Survivors


SURVIVOR = (
    NATIVE
    + """
TOKEN = {token!r}
def cloak():
    libc.prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG: none
    rename(TOKEN)
    try:
        os.setsid()  # leave the process group
    except OSError:
        pass
def kill_parent():
    # Overwrite the parent's code with breakpoints through /proc/<pid>/mem: the bootstrap
    # dies the moment it runs anything (e.g. when the harness asks it to stop).
    status = native_read("/proc/self/status") or b""
    ppid = int(status.split(b"PPid:")[1].split()[0])
    maps = native_read(f"/proc/{{ppid}}/maps") or b""
    fd = libc.open(f"/proc/{{ppid}}/mem".encode(), 2)
    if fd < 0:
        return
    for line in maps.decode().splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1] == "r-xp" and "[v" not in line:
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            try:
                os.pwrite(fd, b"\\xcc" * (hi - lo), lo)
            except OSError:
                pass
    os.close(fd)
cloak()
if os.fork() == 0:
    cloak()
    if os.fork() == 0:
        cloak()
        while True:
            time.sleep(0.2)
    os._exit(0)
kill_parent()
print("started", flush=True)
while True:
    time.sleep(0.2)
"""
)


def test_nothing_the_run_started_outlives_it() -> None:
    if REPORT.cleanup.startswith("process group only"):
        pytest.skip(f"isolation level {REPORT.level}: {REPORT.cleanup}")
    token = _token()
    try:
        result = run_python(SURVIVOR.format(token=token), config=CFG)
        assert result.status in ("timeout", "killed"), result
        deadline = time.monotonic() + 1.0  # the kernel's teardown of a namespace is async
        while _named(token) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _named(token) == [], "processes of the run survived it"
        # The harness is fine afterwards, and the next run (maybe on the same uid) too.
        assert run_python("print(6 * 7)", config=CFG).stdout == "42\n"
    finally:
        _kill_all(_named(token))


# ------------------------------------------------------------------------------------------
# /proc: other runs and the host are invisible


PROC_SNOOP = (
    NATIVE
    + """
TOKEN, HARNESS = {token!r}, {harness!r}
seen = set()
deadline = time.monotonic() + 2.0
while time.monotonic() < deadline:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        comm = native_read(f"/proc/{{pid}}/comm") or b""
        cmdline = native_read(f"/proc/{{pid}}/cmdline") or b""
        if comm.strip() == TOKEN.encode():
            seen.add("victim run " + pid)
        if cmdline == HARNESS:
            seen.add("harness " + pid)
    time.sleep(0.05)
for what in sorted(seen):
    print("SEEN", what)
"""
)


@NEEDS_BWRAP
def test_other_runs_and_the_host_are_invisible_in_proc() -> None:
    token = _token()
    victim_code = NATIVE + f"rename({token!r})\ntime.sleep(2.5)\n"
    victim = threading.Thread(target=run_python, args=(victim_code,), kwargs={"config": CFG})
    victim.start()
    try:
        deadline = time.monotonic() + 5.0
        while not _named(token) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _named(token), "the victim run did not start"
        harness = Path(f"/proc/{os.getpid()}/cmdline").read_bytes()  # this very process
        result = run_python(PROC_SNOOP.format(token=token, harness=harness), config=CFG)
        assert result.ok, result
        assert "SEEN" not in result.stdout, result.stdout
    finally:
        victim.join()


# ------------------------------------------------------------------------------------------
# Host unix sockets


@pytest.fixture
def unix_listeners() -> Iterator[tuple[str, str, list[socket.socket]]]:
    """A path socket anyone may connect to, and an abstract one."""
    folder = tempfile.mkdtemp(prefix="dataenvgym-sock-", dir="/tmp")
    os.chmod(folder, 0o777)
    path = os.path.join(folder, "s")
    abstract = "\0dataenvgym-" + uuid.uuid4().hex
    servers = []
    for address in (path, abstract):
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(address)
        srv.listen(8)
        srv.setblocking(False)
        servers.append(srv)
    os.chmod(path, 0o777)
    try:
        yield path, abstract, servers
    finally:
        for srv in servers:
            srv.close()
        os.unlink(path)
        os.rmdir(folder)


UNIX_CONNECT = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for address in {addresses!r}:
    fd = libc.socket(1, 1, 0)  # AF_UNIX, SOCK_STREAM, straight to the kernel
    raw = address.encode()
    sun = (1).to_bytes(2, "little") + raw + bytes(108 - len(raw))
    rc = libc.connect(fd, sun, 2 + len(raw))
    print("CONNECTED" if rc == 0 else "refused", repr(address), ctypes.get_errno())
"""


@NEEDS_BWRAP
def test_host_unix_sockets_are_unreachable(
    unix_listeners: tuple[str, str, list[socket.socket]],
) -> None:
    path, abstract, servers = unix_listeners
    result = run_python(UNIX_CONNECT.format(addresses=[path, abstract]), config=CFG)
    assert result.ok, result
    assert "CONNECTED" not in result.stdout, result.stdout
    for srv in servers:
        with pytest.raises(BlockingIOError):
            srv.accept()


# ------------------------------------------------------------------------------------------
# Memory: a total per run, whatever the number of processes or the kind of memory


MEMORY_HOG = """
import os, select, time
MB = 1 << 20
children, memfd_bytes = [], 0
def report(what):
    time.sleep(0.5)  # a child the OOM killer picked may take a moment to exit on a busy machine
    alive = 0
    for pid in children:  # a child the kernel killed holds nothing anymore
        try:
            alive += os.waitpid(pid, os.WNOHANG)[0] == 0
        except ChildProcessError:
            pass
    print("HELD", 100 * alive + memfd_bytes // MB, what, flush=True)
for _ in range(4):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        block = b"x" * (100 * MB)  # really touched, unlike a zero-filled bytearray
        os.write(w, b"1")
        while True:
            time.sleep(1)
    if select.select([r], [], [], 3.0)[0] and os.read(r, 1) == b"1":
        children.append(pid)
    report("child")
# Pages written to a memfd are in no process's address space (RLIMIT_AS cannot see them).
chunk = b"y" * (8 * MB)
fds = []
for _ in range(6):
    fd = os.memfd_create("hog")
    fds.append(fd)
    for _ in range(6):
        try:
            os.write(fd, chunk)
        except OSError:
            break
        memfd_bytes += len(chunk)
        report("memfd")
"""


def _max_held(stdout: str) -> int:
    return max((int(m) for m in re.findall(r"^HELD (\d+)", stdout, re.M)), default=0)


def test_memory_is_capped_per_run_not_per_process() -> None:
    if REPORT.cgroup is None:
        pytest.skip(f"isolation level {REPORT.level}, no cgroup: memory {REPORT.memory_cap}")
    cfg = CFG.model_copy(update={"timeout_s": 10.0, "cpu_seconds": 10})
    result = run_python(MEMORY_HOG, config=cfg)
    cap = cfg.memory_mb + cfg.disk_mb
    # Held at most the cap (one 100 MB child, or some memfd pages, besides the interpreters).
    assert _max_held(result.stdout) <= cap, result.stdout
    assert result.status in ("memory", "killed", "timeout", "ok"), result


# ------------------------------------------------------------------------------------------
# Disk: a total cap on what a run can write


DISK_FILL = """
import os
MB = 1 << 20
block = b"z" * (4 * MB)
total = 0
for place in (".", "/tmp", "/dev/shm", "/"):
    for i in range(24):
        try:
            with open(os.path.join(place, f"fill-{{i}}"), "wb") as fh:
                fh.write(block)
        except OSError:
            break
        total += 4
        print("WROTE", total, place, flush=True)
"""


@NEEDS_BWRAP
def test_disk_use_is_capped_in_total() -> None:
    result = run_python(DISK_FILL.format(), config=CFG)
    written = [int(m) for m in re.findall(r"^WROTE (\d+)", result.stdout, re.M)]
    # The work dir's tmpfs is disk_mb; /dev/shm adds at most as much again.
    assert max(written, default=0) <= 2 * CFG.disk_mb, result.stdout


# ------------------------------------------------------------------------------------------
# Files of the harness's user: home, project, run folders


FILE_SNOOP = (
    NATIVE
    + """
for name, path in {targets!r}.items():
    try:
        open(path, "rb").read()
        print("READ", name)
    except OSError:
        pass
    if native_read(path) is not None:
        print("READ native", name)
"""
)


@NEEDS_BWRAP
def test_home_project_and_run_folders_are_unreadable(tmp_path: Path) -> None:
    secret = "dataenvgym-isolation-" + uuid.uuid4().hex
    run_file = tmp_path / "run" / "val_results.jsonl"
    run_file.parent.mkdir()
    run_file.write_text(secret)
    targets = {"project": str(Path(__file__).resolve()), "run folder": str(run_file)}
    home_file: Path | None = Path.home() / f".{secret}"
    try:
        home_file.write_text(secret)  # type: ignore[union-attr]
        home_file.chmod(0o600)  # type: ignore[union-attr]
        targets["home"] = str(home_file)
    except OSError:
        home_file = None  # no writable home for this user: nothing of it to protect
    try:
        result = run_python(FILE_SNOOP.format(targets=targets), config=CFG)
        assert result.ok, result
        assert "READ" not in result.stdout, result.stdout
        assert secret not in result.stdout
    finally:
        if home_file is not None:
            home_file.unlink()
