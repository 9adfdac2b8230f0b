"""Benchmark: evaluations per hour by executor, and what packing changes in the results.

The same N random valid losses (the search's random plan for --seed) are trained through
the search driver with each executor configuration; the first configuration is the
sequential baseline (local, one at a time). Each configuration first runs a short warm-up
(2 steps per loss) so worker start-up and data loading are not timed.

Reported per configuration: wall seconds, evaluations per hour, the ratio to sequential,
and the largest fitness difference from the sequential run of the same losses (packing
changes float rounding, not the algorithm).

Defaults: the demo preset on the CPU; paper-surrogate (shortened with --steps) on CUDA.
Prints one JSON object. Run from the repository root:

    python benchmarks/throughput.py [--losses 8] [--configs local:1,local:2,packed:2,packed:4]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from common import machine
from symloss.executors import ExecutorSpec
from symloss.search.driver import Pending, drive
from symloss.search.jobs import Job, train_job
from symloss.search.random_search import plan

CPU_CONFIGS = "local:1,local:2,packed:2,packed:4,packed:4/2,ray:2"
CUDA_CONFIGS = "local:1,local:4,packed:4,packed:8,packed:16,packed:16/4"


def spec_of(text: str) -> ExecutorSpec:
    """'kind:concurrency[/pack_size]' -> ExecutorSpec (packed:4/2: two packs of two in flight)."""
    kind, _, rest = text.partition(":")
    concurrency, _, pack = rest.partition("/")
    return ExecutorSpec(kind, int(concurrency or 1), int(pack) if pack else None)


def run_all(spec: ExecutorSpec, jobs: list[Job]) -> tuple[list, float]:
    """Every job through the search driver with this executor: (evaluations in job order, wall s)."""
    executor = spec.make()
    try:
        warm_up = [Job(j.genome, j.technique, j.preset, j.seed, j.data_root, (("steps", 2),)) for j in jobs]
        _drive(executor, warm_up)
        started = time.perf_counter()
        results = _drive(executor, jobs)
        return results, time.perf_counter() - started
    finally:
        executor.close()


def _drive(executor, jobs: list[Job]) -> list:
    queue = iter(range(len(jobs)))
    results: dict[int, object] = {}

    def propose():
        index = next(queue, None)
        return None if index is None else Pending(jobs[index], None, index)

    drive(executor, train_job, propose, lambda pending, evaluation: results.__setitem__(pending.context, evaluation))
    return [results[i] for i in range(len(jobs))]


def main() -> None:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--losses", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="paper-surrogate" if cuda else "demo")
    parser.add_argument("--technique", default="base")
    parser.add_argument("--steps", type=int, default=2_000 if cuda else None)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--configs", default=CUDA_CONFIGS if cuda else CPU_CONFIGS)
    args = parser.parse_args()
    overrides = (("steps", args.steps),) if args.steps else ()
    jobs = [Job(c.genome.to_dict(), args.technique, args.preset, args.seed, args.data_root, overrides)
            for c in plan(args.seed, args.losses)]
    rows, baseline = [], None
    for text in args.configs.split(","):
        spec = spec_of(text)
        results, wall = run_all(spec, jobs)
        baseline = baseline or (results, wall)
        rows.append({"executor": text, "wall_s": round(wall, 2),
                     "evaluations_per_hour": round(len(jobs) * 3600 / wall),
                     "ratio_to_sequential": round(baseline[1] / wall, 3),
                     "max_fitness_difference": round(max(abs(a.fitness - b.fitness)
                                                         for a, b in zip(results, baseline[0])), 4),
                     "statuses_equal": [a.status for a in results] == [b.status for b in baseline[0]]})
    print(json.dumps({"benchmark": "throughput", "machine": machine(cuda), "preset": args.preset,
                      "technique": args.technique, "steps": args.steps, "losses": len(jobs),
                      "sequential_fitness": [round(e.fitness, 4) for e in baseline[0]], "configs": rows}, indent=1))


if __name__ == "__main__":
    main()
