"""`symloss evolve`, `top` and `eliminate` end to end with the real trainer (tiny settings)."""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from symloss_cli.main import main

TINY = ["--initial", "4", "--population", "2", "--tournament", "2", "--iterations", "4", "--steps", "40", "--seed", "1",
        "--executor", "local"]  # one at a time: a resumed run replays exactly (in packs the rounding can differ)
SCRIPT = Path(sys.executable).parent / "symloss"


def run(*args):
    return CliRunner().invoke(main, list(args))


def evaluations(run_dir, trained_only=True):
    """(stage, iteration, key) of each evaluation: trainings only, or reuses of them too."""
    connection = sqlite3.connect(Path(run_dir) / "store.sqlite")
    where = "WHERE reused_from IS NULL" if trained_only else ""
    rows = connection.execute(f"SELECT stage, iteration, key FROM evaluations {where} ORDER BY id").fetchall()
    connection.close()
    return rows


def committed(run_dir) -> int:
    """Evaluations committed so far (0 while the store is still being created)."""
    try:
        return len(evaluations(run_dir, False)) if (Path(run_dir) / "store.sqlite").exists() else 0
    except sqlite3.OperationalError:
        return 0


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("evolve") / "straight"
    result = run("evolve", "--run-dir", str(run_dir), *TINY)
    assert result.exit_code == 0, result.output
    return run_dir, result


def test_evolve_prints_the_top_and_the_baseline(straight_run):
    run_dir, result = straight_run
    assert "top 5" in result.stdout and "CE baseline: fitness" in result.stdout
    assert result.stdout.count("$$") == 2 * 5
    searched = [row[:2] for row in evaluations(run_dir, trained_only=False) if row[0] in ("random", "evolve")]
    assert sorted(row for row in searched if row[0] == "random") == [("random", i) for i in range(4)]
    assert sorted(set(row for row in searched if row[0] == "evolve")) == [("evolve", i) for i in range(4)]
    trained_keys = [row[2] for row in evaluations(run_dir)]
    assert len(trained_keys) == len(set(trained_keys))  # no loss trained twice


def test_top_json_gives_each_loss(straight_run):
    run_dir, _ = straight_run
    result = run("top", str(run_dir), "--all", "--json")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len({r["key"] for r in rows}) >= 5
    assert {"key", "fitness", "status", "iteration", "latex", "genome"} <= set(rows[0])
    assert rows == sorted(rows, key=lambda r: -r["fitness"])


def test_evolve_refuses_to_overwrite_a_run(straight_run):
    run_dir, _ = straight_run
    result = run("evolve", "--run-dir", str(run_dir), *TINY)
    assert result.exit_code == 2 and "--resume" in result.stderr


def test_resume_refuses_options_that_would_change_the_run(straight_run):
    run_dir, _ = straight_run
    before = evaluations(run_dir, False)
    result = run("evolve", "--resume", str(run_dir), "--steps", "5", "--augment", "mixup", "--precision", "bf16")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --resume continues the run as configured; --augment, --steps, --precision cannot change it "
        "(start a new run instead)"]
    assert evaluations(run_dir, False) == before


@pytest.mark.parametrize("option, value", [("--cutout-size", "8"), ("--mixup-alpha", "0.2"), ("--randaug-n", "1"),
                                           ("--randaug-m", "5"), ("--pad", "2"), ("--label-smoothing", "0.1")])
def test_resume_refuses_every_unstated_value(straight_run, option, value):
    run_dir, _ = straight_run
    result = run("evolve", "--resume", str(run_dir), option, value)
    assert result.exit_code == 2 and f"; {option} cannot change it" in result.stderr


@pytest.mark.parametrize("args, culprit", [
    (["evolve", "--preset", "huge"], "huge"),
    (["evolve", "--augment", "autoaugment"], "autoaugment"),
    (["top", "/nonexistent/run"], "not a symloss run directory"),
    (["evolve", "--resume", "/nonexistent/run"], "not a symloss run directory"),
    (["eliminate", "/nonexistent/run"], "not a symloss run directory"),
    (["evolve", "--preset", "paper", "--iterations", "0", "--initial", "1", "--population", "1"], "data root"),
])
def test_errors_are_one_line_and_exit_2(args, culprit, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2 and culprit in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error")]) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed beside this Python")
def test_sigkill_at_random_moments_then_resume_matches_the_straight_run(straight_run, tmp_path):
    straight_dir, _ = straight_run
    run_dir = tmp_path / "killed"
    rng = random.Random(0)
    command = [str(SCRIPT), "evolve", "--run-dir", str(run_dir), *TINY]
    total = len(evaluations(straight_dir, False))
    done_after_kills = []
    for target in sorted(rng.sample(range(1, total - 1), 3)):  # kill once the run has reached `target`
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            if committed(run_dir) >= target:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.5))  # a random moment in the next evaluation
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        done_after_kills.append(len(evaluations(run_dir, False)))
        command = [str(SCRIPT), "evolve", "--resume", str(run_dir), "--executor", "local"]
    assert all(0 < done < total for done in done_after_kills), done_after_kills  # killed mid-run
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert sorted(evaluations(run_dir)) == sorted(evaluations(straight_dir))  # none lost, none repeated
    assert sorted(evaluations(run_dir, False)) == sorted(evaluations(straight_dir, False))
    def ranked(directory):  # every loss, ties by key (rows finish in another order with several in flight)
        rows = map(json.loads, run("top", str(directory), "--all", "--json").stdout.splitlines())
        return sorted(((r["fitness"], r["key"]) for r in rows), key=lambda pair: (-pair[0], pair[1]))
    assert ranked(run_dir) == ranked(straight_dir)


def test_eliminate_runs_its_stages(straight_run):
    run_dir, _ = straight_run
    result = run("eliminate", str(run_dir), "--preset", "demo", "--steps", "20")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("mean fitness") == 3 and "Kendall tau" in result.stdout
