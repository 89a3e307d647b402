"""Render the measured numbers of the README and the docs from the files in bench/results/.

A page marks a block it does not own by hand:

    <!-- results:NAME -->
    (generated: never edit between the markers)
    <!-- /results -->

``NAME`` picks a renderer (see ``RENDERERS``); some take an argument after a colon, e.g.
``leaderboard:code``. Every block ends with the source file and how it was made (command,
date, machine, torch version, numerics), read from ``bench/results/provenance.json``.

    python scripts/render_results.py           # rewrite every block in README.md and docs/
    python scripts/render_results.py --check   # exit 1 and name the blocks that differ
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BLOCK = re.compile(
    r"(?P<open><!-- results:(?P<name>[\w.:-]+) -->\n)(?P<body>.*?)(?P<close><!-- /results -->)",
    re.DOTALL,
)
PROVENANCE_FIELDS = ("command", "date", "machine", "torch", "numerics")
PLUS_MINUS = "± is the half-width of a 95 % t interval over seeds"
BOARD = "leaderboard-standard.json"


class ResultsError(Exception):
    """A block names an unknown renderer or a results file that cannot be read."""


# --------------------------------------------------------------------------- helpers


def provenance(name: str, results: Path = RESULTS) -> dict[str, Any]:
    """How ``bench/results/<name>`` was made; every field of ``PROVENANCE_FIELDS`` present."""
    entry: dict[str, Any] | None = None
    if name.endswith(".json"):  # a file that records its own provenance
        own = json.loads((results / name).read_text())
        if isinstance(own, dict) and all(own.get(field) for field in PROVENANCE_FIELDS):
            entry = {field: own[field] for field in PROVENANCE_FIELDS}
            if isinstance(entry["numerics"], dict):
                entry["numerics"] = ", ".join(f"{k} {v}" for k, v in entry["numerics"].items())
    if entry is None:
        table = json.loads((results / "provenance.json").read_text())
        entry = table.get(name)
    if entry is None:
        raise ResultsError(f"bench/results/provenance.json has no entry for {name}")
    missing = [field for field in PROVENANCE_FIELDS if not entry.get(field)]
    if missing:
        raise ResultsError(f"provenance of {name} lacks {', '.join(missing)}")
    return entry


def source_line(name: str, results: Path = RESULTS) -> str:
    entry = provenance(name, results)
    return (
        f"*Source: `bench/results/{name}`, made by `{entry['command']}` on {entry['date']}; "
        f"{entry['machine']}; torch {entry['torch']}; numerics: {entry['numerics']}.*"
    )


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] * len(header)) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def pts(value: float, half: float | None = None) -> str:
    text = f"{value * 100:+.1f}"
    return text if half is None else f"{text} ± {half * 100:.1f}"


def interval(mean: float, low: float | None, high: float | None, digits: int = 2) -> str:
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:.{digits}f} [unbounded]"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def board(results: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((results / BOARD).read_text())
    return data


def t_interval(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % t half-width (the package's own ``scoring.t_interval``)."""
    from dataenvgym.scoring import t_interval as package_t_interval

    result = package_t_interval(values)
    return result.mean, result.half_width


def paired(data: dict[str, Any], domain: str, env: str, agent: str) -> list[float]:
    """Final − initial test accuracy of ``agent`` minus no-state's, per seed (paired)."""
    gains: dict[str, dict[int, float]] = defaultdict(dict)
    for run in data["runs"]:
        config, summary = run["config"], run["summary"]
        if config["domain"] == domain and config["env"] == env:
            gain = summary["final"]["test_accuracy"] - summary["initial"]["test_accuracy"]
            gains[config["agent"]][config["seed"]] = gain
    seeds = sorted(set(gains[agent]) & set(gains["no-state"]))
    return [gains[agent][s] - gains["no-state"][s] for s in seeds]


# --------------------------------------------------------------------------- renderers


def render_headline(arg: str, results: Path) -> str:
    """The README's table: per setting, the three agents' gains and with state's score."""
    data = board(results)
    by_setting: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in data["rows"]:
        by_setting[(row["domain"], row["env"])][row["agent"]] = row
    rows = []
    for (domain, env), agents in by_setting.items():
        w, n, o = agents["with-state"], agents["no-state"], agents["oracle"]

        def gain(row: dict[str, Any]) -> str:
            return pts(row["gain_mean"], (row["gain_high"] - row["gain_low"]) / 2)

        rows.append(
            [
                domain,
                env,
                f"{w['iterations']}×{w['budget']}",
                gain(n),
                gain(w),
                gain(o),
                interval(w["score_mean"], w["score_low"], w["score_high"]),
            ]
        )
    seeds = data["rows"][0]["seeds"]
    header = ["domain", "env", "budget", "no-state", "with-state", "oracle 🔒", "score"]
    caption = (
        f"Test-accuracy gain over the base student in points, mean over seeds 0–{seeds - 1} "
        f"({PLUS_MINUS}); score: with state's normalized teaching score, 0 = no-state, "
        "1 = oracle, [95 % Fieller interval]."
    )
    return "\n\n".join([table(header, rows), caption, source_line(BOARD, results)])


def render_leaderboard(arg: str, results: Path) -> str:
    """The standard board, every setting × agent (``arg``: one domain only)."""
    data = board(results)
    rows = []
    for row in data["rows"]:
        if arg and row["domain"] != arg:
            continue
        agent = row["agent"] + (" 🔒" if row["privileged"] else "")
        score = ""
        if row["agent"] not in ("no-state", "oracle"):
            score = interval(row["score_mean"], row["score_low"], row["score_high"])
        match = ""
        if row.get("data_fraction_mean") is not None:
            half = (row["data_fraction_high"] - row["data_fraction_low"]) / 2
            match = f"{row['data_fraction_mean']:.2f} ± {half:.2f} ({row['data_reached']})"
        rows.append(
            [
                row["domain"],
                row["env"],
                f"{row['iterations']}×{row['budget']}",
                row["student"],
                agent,
                str(row["seeds"]),
                pts(row["gain_mean"], (row["gain_high"] - row["gain_low"]) / 2),
                f"{row['final_test_mean']:.3f}",
                f"{row['data_trained_mean']:.0f}",
                score,
                match,
            ]
        )
    header = [
        "domain",
        "env",
        "budget",
        "student",
        "agent",
        "seeds",
        "gain (pts)",
        "final test",
        "data trained",
        "score",
        "data to match",
    ]
    caption = (
        f"Gain: test accuracy after − before in points ({PLUS_MINUS}). Final test and data "
        "trained: means over seeds. Score: normalized teaching score [95 % Fieller interval]. "
        "Data to match: the fraction of no-state's data the agent needed to reach no-state's "
        "final test accuracy, averaged **only over the seeds that reached it** (their count "
        "in brackets), ± over those seeds."
    )
    return "\n\n".join([table(header, rows), caption, source_line(BOARD, results)])


def render_gaps(arg: str, results: Path) -> str:
    """Per setting: oracle − no-state (the score's denominator) and with − no-state, paired."""
    data = board(results)
    rows = []
    for row in data["rows"]:
        if row["agent"] != "with-state":
            continue
        domain, env = row["domain"], row["env"]
        oracle = paired(data, domain, env, "oracle")
        with_state = paired(data, domain, env, "with-state")
        o_mean, o_half = t_interval(oracle)
        w_mean, w_half = t_interval(with_state)
        above = sum(1 for d in with_state if d > 0)
        rows.append(
            [
                domain,
                env,
                str(len(oracle)),
                pts(o_mean, o_half),
                "yes" if o_mean - o_half > 0 else "no",
                pts(w_mean, w_half),
                f"{above}/{len(with_state)}",
            ]
        )
    header = [
        "domain",
        "env",
        "seeds",
        "oracle − no-state (pts)",
        "separates",
        "with − no-state (pts)",
        "seeds with state above",
    ]
    caption = (
        f"Differences of test-accuracy gain, paired by seed ({PLUS_MINUS}). A setting "
        "separates the references when the oracle − no-state interval excludes 0."
    )
    return "\n\n".join([table(header, rows), caption, source_line(BOARD, results)])


def render_default_episode(arg: str, results: Path) -> str:
    """The default episode, timed from a fresh cache."""
    name = "default_episode.json"
    data = json.loads((results / name).read_text())
    summary = data["summary"]
    rows = [
        [
            f"{summary['env']} / {summary['domain']} / {summary['agent']} / seed {summary['seed']}",
            f"{summary['initial']['test_accuracy']:.3f}",
            f"{summary['final']['test_accuracy']:.3f}",
            f"{data['wall_seconds']:.0f} s",
            f"{data['cpu_seconds']:.0f} s",
            f"{data['base_student_seconds']:.0f} s",
            f"{data['peak_rss_gb']:.2f} GB",
        ]
    ]
    header = [
        "episode",
        "test before",
        "test after",
        "wall",
        "CPU (user + system)",
        "of the wall: base student",
        "peak memory",
    ]
    caption = (
        "One episode (one seed: no interval), started with an empty cache, so the times include "
        "pretraining the base student once; later runs with the same settings read it from the "
        "cache. Wall time depends on what else the machine runs (its load is in the source "
        "line); CPU time much less."
    )
    if data.get("setup_seconds"):
        caption += (
            " Before it, `scripts/setup.sh` made the fresh `.venv` in "
            f"{data['setup_seconds']:.0f} s (wall; pip's downloads and installs are most of it)."
        )
    return "\n\n".join([table(header, rows), caption, source_line(name, results)])


def render_subskills(arg: str, results: Path) -> str:
    """The default episode's test accuracy per subskill, before → after."""
    name = "default_episode.json"
    summary = json.loads((results / name).read_text())["summary"]
    before = summary["initial"]["test_per_subskill"]
    after = summary["final"]["test_per_subskill"]
    rows = [[key, f"{before[key]:.3f}", f"{after[key]:.3f}"] for key in sorted(before)]
    caption = "One episode, seed 0 (no interval)."
    return "\n\n".join(
        [table(["subskill", "before", "after"], rows), caption, source_line(name, results)]
    )


def render_hf_student(arg: str, results: Path) -> str:
    """The Hugging Face student bench: the output block of ``hf_student.md``, as printed."""
    name = "hf_student.md"
    text = (results / name).read_text()
    match = re.search(r"```\n(.*?)```", text, re.DOTALL)
    if match is None:
        raise ResultsError(f"{name} has no output block")
    caption = "One episode, seed 0 (no interval); the bench's output as printed."
    return "\n\n".join([f"```\n{match.group(1)}```", caption, source_line(name, results)])


def render_include(arg: str, results: Path) -> str:
    """A Markdown results file's tables and commands, its own title dropped."""
    text = (results / arg).read_text()
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    body = "\n".join("###" + line[1:] if line.startswith("## ") else line for line in lines)
    return "\n\n".join([body.strip(), source_line(arg, results)])


def render_mutation(arg: str, results: Path) -> str:
    """Per-domain false accepts and false rejects of the scoring mutation bench."""
    name = arg or "scoring_mutation.json"
    domains = json.loads((results / name).read_text())["domains"]

    def count(hits: int, total: int) -> str:
        return f"{hits}/{total} ({100 * hits / total:.1f} %)" if total else "0/0"

    rows = []
    for domain, entry in domains.items():
        total = entry["total"]
        rows.append(
            [
                domain,
                str(total["mutants"]),
                count(total["score_false_accepts"], total["mutants"]),
                count(total["verify_false_accepts"], total["mutants"]),
                str(total["equivalents"]),
                count(total["score_false_rejects"], total["equivalents"]),
                count(total["verify_false_rejects"], total["equivalents_for_verify"]),
            ]
        )
    header = [
        "domain",
        "mutants",
        "false accepts (score)",
        "false accepts (verify)",
        "equivalents",
        "false rejects (score)",
        "false rejects (verify)",
    ]
    note = "Counts, not intervals: every variant of every sampled item is scored."
    return "\n\n".join([table(header, rows), note, source_line(name, results)])


def render_learned_teacher(arg: str, results: Path) -> str:
    """The learned teacher against with-state on held-out settings (``curve``: the learning
    curve of the training run it ships)."""
    if arg == "curve":
        return render_include("learned_teacher/learning_curve.md", results)
    name = "learned_teacher.json"
    data = json.loads((results / name).read_text())

    def diff(entry: dict[str, Any]) -> str:
        return pts(entry["mean"], entry["half_width"])

    rows = [
        [
            h["setting"],
            "yes" if h["unseen_domain"] else "no",
            ", ".join(str(s) for s in h["learned_minus_with_state_test"]["seeds"]),
            diff(h["learned_minus_with_state_test"]),
            diff(h["learned_minus_with_state_val"]),
        ]
        for h in data["held_out"]
    ]
    header = [
        "held-out setting",
        "domain unseen in training",
        "seeds",
        "learned − with-state, test (pts)",
        "learned − with-state, validation (pts)",
    ]
    training = data["training"]
    settings = ", ".join(f"{s['env']}/{s['domain']}" for s in training["settings"])
    seeds = ", ".join(str(s) for s in training["seeds"])
    caption = (
        f"Final accuracy after {training['iterations']} iterations at the domain's default "
        f"budget, paired by seed; {PLUS_MINUS}. Mean over the settings (test): "
        f"{pts(data['mean_over_settings'])} pts; interval above 0 in "
        f"{data['settings_with_interval_above_zero']} of {len(data['held_out'])}. "
        f"Training: {settings}, seeds {seeds}; {training['generations']} generations of "
        f"{training['population']} candidates, {training['episodes']} episodes, "
        f"{training['wall_seconds'] / 60:.0f} min of wall time on one worker."
    )
    return "\n\n".join([table(header, rows), caption, source_line(name, results)])


RENDERERS: dict[str, Callable[[str, Path], str]] = {
    "mutation": render_mutation,
    "headline": render_headline,
    "leaderboard": render_leaderboard,
    "gaps": render_gaps,
    "default-episode": render_default_episode,
    "default-subskills": render_subskills,
    "hf-student": render_hf_student,
    "include": render_include,
    "learned-teacher": render_learned_teacher,
}


# --------------------------------------------------------------------------- pages


def render_block(name: str, results: Path = RESULTS) -> str:
    kind, _, arg = name.partition(":")
    renderer = RENDERERS.get(kind)
    if renderer is None:
        raise ResultsError(f"unknown results block {name!r}; known: {', '.join(RENDERERS)}")
    return renderer(arg, results).rstrip("\n") + "\n"


def render_text(text: str, results: Path = RESULTS) -> str:
    """``text`` with every results block regenerated."""
    return BLOCK.sub(
        lambda m: m.group("open") + render_block(m.group("name"), results) + m.group("close"),
        text,
    )


def block_names(text: str) -> list[str]:
    return [m.group("name") for m in BLOCK.finditer(text)]


def pages(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def stale_blocks(path: Path, results: Path = RESULTS) -> list[str]:
    """Names of the blocks in ``path`` whose text differs from what the results give."""
    text = path.read_text()
    stale = []
    for match in BLOCK.finditer(text):
        if match.group("body") != render_block(match.group("name"), results):
            stale.append(match.group("name"))
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale blocks")
    args = parser.parse_args(argv)
    status = 0
    for path in pages():
        if args.check:
            for name in stale_blocks(path):
                print(f"{path.relative_to(ROOT)}: results block {name} differs from bench/results")
                status = 1
        else:
            text = path.read_text()
            new = render_text(text)
            if new != text:
                path.write_text(new)
                print(f"rendered {path.relative_to(ROOT)}")
    if status:
        print("run: python scripts/render_results.py", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
