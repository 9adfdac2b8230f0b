"""Benchmark of the search's own cost: everything an evaluation needs besides training.

1. A demo-sized evolution (the `demo` search preset's sizes) with a free stand-in fitness:
   its wall time per evaluation is the search overhead (random sampling, mutation with the
   novelty checks, simplification and keys, store commits, population snapshots).
2. One real demo training (the CE genome, `demo` preset) for scale: overhead / training.
3. With --run-dir, a finished real run read back from its store: how many trainings
   dedup saved (evaluations reused from an identical loss in the same setting), and the
   measured overhead (wall time between commits minus training time, per evaluation).

Prints one JSON object. Run from the repository root:

    python benchmarks/search.py [--run-dir runs/...] [--seed 0]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import tempfile
import time

import symloss
from common import machine
from symloss import executors, presets, train, zoo
from symloss.search import EvolutionConfig, evolve
from symloss.search.jobs import Job
from symloss.store import Store
from symloss.train import Evaluation


def free_fitness(job: Job) -> Evaluation:
    """A stand-in that costs nothing: fitness from the genome's JSON."""
    digest = hashlib.sha256(json.dumps(job.genome, sort_keys=True).encode()).hexdigest()
    return Evaluation(int(digest[:8], 16) / 16**8, "ok", None, 0, 0.0)


def stand_in_overhead(seed: int) -> dict:
    preset = presets.search("demo")
    config = EvolutionConfig(preset.initial, preset.population, preset.tournament, preset.iterations)
    with tempfile.TemporaryDirectory() as directory, Store(directory, create=True) as store:
        run_id = store.create_run("evolve", "bench", {}, seed)
        started = time.perf_counter()
        evolve(store, run_id, config, "base", seed,
               lambda c, t: Job(c.genome.to_dict(), t, "demo", seed), executors.InProcess(), free_fitness)
        wall = time.perf_counter() - started
        evaluations = len(store.evaluations(run_id))
        attempts = [s["attempts"] for s in store.iterations(run_id)]
    return {"evaluations": evaluations, "wall_s": round(wall, 3), "overhead_ms_per_evaluation": round(1e3 * wall / evaluations, 1),
            "mutation_attempts_mean": round(sum(attempts) / max(1, len(attempts)), 2)}


def demo_training_s(seed: int) -> float:
    return train.evaluate(symloss.Loss.from_genome(zoo.ce_genome()), "demo", "base", seed).wall_s


def real_run(run_dir: str) -> dict:
    connection = sqlite3.connect(os.path.join(run_dir, "store.sqlite"))
    rows = connection.execute("SELECT created, wall_s, reused_from FROM evaluations "
                              "WHERE stage IN ('random', 'evolve') ORDER BY id").fetchall()
    connection.close()
    reused = sum(1 for _, _, r in rows if r is not None)
    span = rows[-1][0] - rows[0][0]
    training = sum(w for _, w, _ in rows[1:])
    return {"evaluations": len(rows), "trainings": len(rows) - reused, "saved_by_dedup": reused,
            "overhead_ms_per_evaluation": round(1e3 * (span - training) / max(1, len(rows) - 1), 1),
            "training_s_per_training": round(training / max(1, len(rows) - 1 - reused), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=None, help="a finished `symloss evolve` run to read")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    overhead = stand_in_overhead(args.seed)
    training = demo_training_s(args.seed)
    result = {"benchmark": "search", "seed": args.seed, "stand_in_demo_evolution": overhead,
              "demo_training_s": round(training, 2),
              "overhead_fraction_of_demo_training": round(overhead["overhead_ms_per_evaluation"] / 1e3 / training, 4)}
    if args.run_dir:
        result["real_run"] = real_run(args.run_dir)
    result["machine"] = machine()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
