"""A real two-node Ray cluster on loopback (a head and a worker started with ``ray start``):
boards and sweeps run on it give exactly the local executor's numbers, and their run folders
come back to where they were asked for."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.cli import app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None,
        reason="ray is not installed (pip install '.[ray]')",
    ),
]

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ray_command() -> list[str]:
    beside = Path(sys.executable).with_name("ray")
    found = str(beside) if beside.exists() else shutil.which("ray")
    if found is None:
        pytest.skip("the ray command is not installed")
    return [found]


def _node(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """One ``ray start --block`` in a process group of its own: stopping that group stops
    this node's processes and no other Ray on the machine (``ray stop`` would stop all)."""
    ports = {
        "--node-manager-port": _free_port(),
        "--object-manager-port": _free_port(),
        "--dashboard-agent-listen-port": _free_port(),
        "--dashboard-agent-grpc-port": _free_port(),
        "--metrics-export-port": _free_port(),
        "--runtime-env-agent-port": _free_port(),
    }
    command = [*_ray_command(), "start", "--block", "--node-ip-address", "127.0.0.1", *args]
    command += ["--num-cpus", "1", "--disable-usage-stats"]
    for flag, port in ports.items():
        command += [flag, str(port)]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(node: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(node.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(node.pid, 0)  # anything of the group left?
            except ProcessLookupError:
                node.poll()
                return
            node.poll()
            time.sleep(0.2)


def _cluster_cpus(address: str) -> float:
    probe = (
        f"import ray; ray.init(address={address!r}, log_to_driver=False); "
        "print(ray.cluster_resources().get('CPU', 0)); ray.shutdown()"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    lines = done.stdout.strip().splitlines()
    return float(lines[-1]) if done.returncode == 0 and lines else 0.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    """A head and a worker node on 127.0.0.1, one CPU each, with a private auth token."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    # Short temp dirs: Ray's socket paths must fit in 107 characters.
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    env = {**os.environ, **auth, "OMP_NUM_THREADS": "1"}
    env.pop("RAY_ADDRESS", None)
    nodes = [
        _node(["--head", "--port", str(port), "--temp-dir", temp], env),
    ]
    saved = {k: os.environ.get(k) for k in auth}
    os.environ.update(auth)
    try:
        time.sleep(3)
        nodes.append(_node(["--address", address], env))
        deadline = time.monotonic() + 120
        while _cluster_cpus(address) < 2:
            if time.monotonic() > deadline or any(n.poll() is not None for n in nodes):
                pytest.fail("the two-node Ray cluster did not come up")
            time.sleep(2)
        yield {"address": address}
    finally:
        for node in reversed(nodes):
            _stop(node)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(temp, ignore_errors=True)


def _tiny_base(tiny_student: dict[str, Any]) -> dict[str, Any]:
    return {
        "iterations": 2,
        "budget": 40,
        "trainer": {"steps_per_iteration": 6},
        "student_config": tiny_student,
        "pretrain": {"steps": 20, "examples": 400},
        "domain_config": {"val_per_subskill": 6, "test_per_subskill": 6},
    }


def _accuracies(board: Path) -> dict[str, tuple[float, float, list[float]]]:
    """Per run folder: initial and final test accuracy, and every iteration's val."""
    out = {}
    for folder in sorted((board / "runs").iterdir()):
        summary = json.loads((folder / "summary.json").read_text())
        vals = [row["val_accuracy"] for row in summary["iterations"]]
        out[folder.name] = (
            summary["initial"]["test_accuracy"],
            summary["final"]["test_accuracy"],
            vals,
        )
    return out


def test_a_board_on_a_two_node_cluster_matches_the_local_one_and_resumes(
    cluster: dict[str, str], tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite = {
        "name": "tiny",
        "domains": ["arithmetic"],
        "envs": ["skill-list"],
        "seeds": [0, 1],
        "agents": ["no-state"],
        "base": _tiny_base(tiny_student),
    }
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(yaml.safe_dump(suite))
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    common = ["leaderboard", "--suite", str(suite_file)]
    first = runner.invoke(app, [*common, "--out", str(local)])
    assert first.exit_code == 0, first.output

    # One episode meets a run folder of other settings: it fails, the others go on.
    stray = on_ray / "runs" / "arithmetic-skill-list-b40-i2-tiny-oracle-s1"
    stray.mkdir(parents=True)
    shutil.copy(
        local / "runs" / "arithmetic-skill-list-b40-i2-tiny-no-state-s1" / "config.yaml", stray
    )
    args = [*common, "--out", str(on_ray), "--executor", "ray", "--address", cluster["address"]]
    second = runner.invoke(app, args)
    assert second.exit_code == 1, second.output
    assert "failed arithmetic-skill-list-b40-i2-tiny-oracle-s1" in second.output
    assert "(arithmetic / skill-list / oracle / seed 1)" in second.output
    assert "holds a run of other settings" in second.output
    assert "4/4 done" not in second.output and "3/4 done, 0 running, 1 failed" in second.output
    # The stray folder came back as it was, where it was.
    assert sorted(p.name for p in stray.iterdir()) == ["config.yaml"]

    # Cleared, the board resumes from what came back: three episodes are read back.
    shutil.rmtree(stray)
    third = runner.invoke(app, args)
    assert third.exit_code == 0, third.output
    assert "3 reused, 1 run now" in third.output
    # Same seeds, same numerics: where an episode ran must not change a single number.
    assert _accuracies(on_ray) == _accuracies(local)
    assert len(_accuracies(on_ray)) == 4
    assert not list((on_ray / "runs").glob(".*")), "no staging folder is left behind"
    local_board = json.loads((local / "leaderboard.json").read_text())
    ray_board = json.loads((on_ray / "leaderboard.json").read_text())
    # Every number but the time the episodes took, which depends on where they ran.
    for board in (local_board, ray_board):
        for row in board["rows"]:
            assert row.pop("episode_seconds_mean") > 0
    assert ray_board["rows"] == local_board["rows"]


def test_a_sweep_on_a_two_node_cluster_matches_the_local_one(
    cluster: dict[str, str], tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    spec = {
        "name": "tiny",
        "base": _tiny_base(tiny_student),
        "grid": {"agent": ["with-state", "no-state"], "seed": [0, 1]},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    local = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    args = ["sweep", str(path), "--out", str(tmp_path / "ray"), "--executor", "ray"]
    on_ray = runner.invoke(app, [*args, "--address", cluster["address"]])
    assert on_ray.exit_code == 0, on_ray.output
    assert "4/4 done, 0 running, 0 failed" in on_ray.output
    rows = {
        name: json.loads((tmp_path / name / "results.json").read_text())
        for name in ("local", "ray")
    }
    keep = ("episode", "status", "initial_test", "final_test", "final_val", "training_data")
    assert [{k: r[k] for k in keep} for r in rows["ray"]] == [
        {k: r[k] for k in keep} for r in rows["local"]
    ]
    for row in rows["ray"]:
        assert Path(row["run_folder"]).is_relative_to(tmp_path / "ray")
        assert (Path(row["run_folder"]) / "summary.json").is_file()
