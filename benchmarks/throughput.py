"""Benchmark: evaluations per hour by executor, and what packing changes in the results.

The same N random valid losses (the search's random plan for --seed) are trained through
the search driver with each executor configuration; the first configuration is the
sequential baseline (local, one at a time). Each configuration first runs a short warm-up
(2 steps per loss) so worker start-up and data loading are not timed.

A configuration is 'kind:concurrency[/pack size][@option+option]', options bf16, fp32
(the training's precision) and compile (torch.compile, CUDA only): packed:4/2@bf16 runs two
packs of two in flight under bf16 autocast. Reported per configuration: wall seconds,
evaluations per hour, the ratio to the first configuration (sequential), the ratio to the
sequential run with the same options (local:1@same), and the largest fitness difference from
that run (packing changes float rounding, not the algorithm).

Defaults: the demo preset on the CPU; paper-surrogate (shortened with --steps) on CUDA.
Prints one JSON object (and each configuration's row to stderr as it finishes). Run:

    python benchmarks/throughput.py [--losses 8] [--configs local:1,local:2,packed:2,packed:4]
    python benchmarks/throughput.py --data-root DIR [--dataset imagefolder]   # on CUDA
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from common import machine
from symloss.executors import ExecutorSpec
from symloss.search.driver import Pending, drive
from symloss.search.jobs import Job, train_job
from symloss.search.random_search import plan

CPU_CONFIGS = "local:1,local:2,packed:2,packed:4,packed:4/2,ray:2,local:1@bf16,packed:4@bf16,packed:4/2@bf16"
CUDA_CONFIGS = "local:1,packed:4,packed:8,packed:16,packed:8@compile,packed:16/4,local:4"


OPTIONS = {"bf16": ("precision", "bf16"), "fp32": ("precision", "fp32"), "compile": ("compile", True)}


def parse_config(text: str) -> tuple[ExecutorSpec, tuple]:
    """'kind:concurrency[/pack_size][@option+option]' -> (ExecutorSpec, training overrides)."""
    executor, _, extras = text.partition("@")
    kind, _, rest = executor.partition(":")
    concurrency, _, pack = rest.partition("/")
    unknown = [name for name in extras.split("+") if name and name not in OPTIONS]
    if unknown:
        raise SystemExit(f"unknown option(s) {', '.join(unknown)} in {text!r} (known: {', '.join(OPTIONS)})")
    options = tuple(sorted(OPTIONS[name] for name in extras.split("+") if name))
    return ExecutorSpec(kind, int(concurrency or 1), int(pack) if pack else None), options


def jobs_for(genomes: list[dict], args, options: tuple, steps: int | None) -> list[Job]:
    chosen = {"steps": steps, "dataset": args.dataset, **dict(options)}
    overrides = tuple(sorted((name, value) for name, value in chosen.items() if value))
    return [Job(genome, args.technique, args.preset, args.seed, args.data_root, overrides) for genome in genomes]


def run_all(spec: ExecutorSpec, jobs: list[Job], warm_up: list[Job]) -> tuple[list, float]:
    """Every job through the search driver with this executor, after the warm-up jobs:
    (evaluations in job order, wall s)."""
    executor = spec.make()
    try:
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


def row(text: str, results: list, wall: float, first_wall: float, same: tuple | None) -> dict:
    """One configuration's figures; `same`: the sequential run with its options (text, results, wall)."""
    figures = {"executor": text, "wall_s": round(wall, 2), "evaluations_per_hour": round(len(results) * 3600 / wall),
               "ratio_to_sequential": round(first_wall / wall, 3), "ratio_to_sequential_same_options": None,
               "max_fitness_difference": None, "statuses_equal": None}
    if same is not None:
        _, same_results, same_wall = same
        figures.update(ratio_to_sequential_same_options=round(same_wall / wall, 3),
                       max_fitness_difference=round(max(abs(a.fitness - b.fitness)
                                                        for a, b in zip(results, same_results)), 4),
                       statuses_equal=[a.status for a in results] == [b.status for b in same_results])
    return figures


def main() -> None:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--losses", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="paper-surrogate" if cuda else "demo")
    parser.add_argument("--technique", default="base")
    parser.add_argument("--steps", type=int, default=2_000 if cuda else None)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--dataset", default=None, help="Replace the preset's data set (imagefolder: see "
                                                         "synthetic_images.py).")
    parser.add_argument("--configs", default=CUDA_CONFIGS if cuda else CPU_CONFIGS)
    args = parser.parse_args()
    genomes = [c.genome.to_dict() for c in plan(args.seed, args.losses)]
    rows, first, sequential = [], None, {}
    for text in args.configs.split(","):
        spec, options = parse_config(text)
        results, wall = run_all(spec, jobs_for(genomes, args, options, args.steps),
                                jobs_for(genomes, args, options, 2))
        first = first or wall
        if spec.kind == "local" and spec.concurrency == 1:
            sequential.setdefault(options, (text, results, wall))
        rows.append(row(text, results, wall, first, sequential.get(options)))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # as it comes: a killed run keeps its rows
    print(json.dumps({"benchmark": "throughput", "machine": machine(cuda), "preset": args.preset,
                      "technique": args.technique, "steps": args.steps, "dataset": args.dataset,
                      "losses": len(genomes), "configs": rows,
                      "sequential_fitness": {name: [round(e.fitness, 4) for e in evaluations]
                                             for name, evaluations, _ in sequential.values()}}, indent=1))


if __name__ == "__main__":
    main()
