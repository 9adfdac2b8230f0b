"""Benchmark of the main job: the default `symloss evolve`, before and after, side by side.

For each seed, runs `symloss evolve --seed S` with no other option (the demo search on the
embedded digits, whatever executor and precision the checkout picks by default) once with
the checkout given by --before and once with this one, alternately, so both see the same
machine. Each run's store is read back with sqlite3 (the schema both share): wall time,
evaluations trained, iterations, the top-5 distinct losses' fitness and the CE baseline.

Prints one JSON object: per seed and checkout the figures, and the ratio of wall times
(before / after) side by side; then the mean and the seed-to-seed spread (min, max) of the
best fitness and of the CE baseline per checkout. Run from the repository root:

    python benchmarks/main_job.py --before ../symloss-at-4fc7f9c [--seeds 0 1 2] [--extra ...]

A checkout is run through a directory of links (symloss -> its symloss/, symloss_cli -> its
cli/) first on PYTHONPATH, so neither needs installing.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import linked, machine

HERE = Path(__file__).resolve().parent.parent
RUN = "from symloss_cli.main import main; main()"


def run_evolve(path: Path, run_dir: Path, seed: int, extra: list[str]) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(path)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, "evolve", "--run-dir", str(run_dir), "--seed", str(seed), *extra],
                          cwd=run_dir.parent, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"evolve failed ({path}):\n{done.stderr[-2000:]}")
    return {"wall_s": round(wall, 1), **stored_figures(run_dir / "store.sqlite"),
            "stderr_head": [line for line in done.stderr.splitlines() if line.startswith(("run directory", "executor"))]}


def stored_figures(database: Path) -> dict:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT stage, key, fitness, reused_from FROM evaluations").fetchall()
        iterations = connection.execute("SELECT COUNT(*) FROM iterations").fetchone()[0]
    best: dict[str, float] = {}
    for stage, key, fitness, _ in rows:
        if stage in ("random", "evolve"):
            best[key] = max(fitness, best.get(key, 0.0))
    baseline = [fitness for stage, _, fitness, _ in rows if stage == "baseline"]
    return {"evaluations": len(rows), "trained": sum(reused is None for *_, reused in rows), "iterations": iterations,
            "top5": sorted(best.values(), reverse=True)[:5], "ce_baseline": baseline[0] if baseline else None}


def spread(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 4), "min": round(min(values), 4), "max": round(max(values), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, type=Path, help="the checkout measured as 'before'")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="options given to both runs")
    args = parser.parse_args()

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        paths = {"before": linked(args.before.resolve(), root / "before-path"), "after": linked(HERE, root / "after-path")}
        for seed in args.seeds:
            figures = {name: run_evolve(path, root / f"{name}-{seed}", seed, args.extra) for name, path in paths.items()}
            figures["wall_ratio_before_over_after"] = round(figures["before"]["wall_s"] / figures["after"]["wall_s"], 3)
            results[f"seed={seed}"] = figures
            print(json.dumps({seed: figures}), file=sys.stderr)
    per_seed = list(results.values())
    summary = {name: {"wall_s": spread([r[name]["wall_s"] for r in per_seed]),
                      "best": spread([r[name]["top5"][0] for r in per_seed]),
                      "top5_mean": spread([statistics.fmean(r[name]["top5"]) for r in per_seed]),
                      "ce_baseline": spread([r[name]["ce_baseline"] for r in per_seed])}
               for name in ("before", "after")}
    summary["wall_ratio_of_totals"] = round(sum(r["before"]["wall_s"] for r in per_seed)
                                            / sum(r["after"]["wall_s"] for r in per_seed), 3)
    print(json.dumps({"benchmark": "main_job", "before": str(args.before), "seeds": args.seeds, "extra": args.extra,
                      "results": results, "summary": summary, "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
