"""Benchmark of the torch side: forward+backward cost of Loss.module() against cross_entropy.

For batch B=128 and C = 10, 100 and 1000 classes, on the CPU and, when available, on CUDA,
times one step `loss = fn(logits, target); loss.backward()` (then `logits.grad = None`), with
logits = torch.randn(B, C, requires_grad=True) and two kinds of target: class indices (B,)
and soft targets (B, C) (each row a mix of two classes, 0.7/0.3, as mixup makes), for

- torch.nn.functional.cross_entropy (the baseline),
- the module of the CE genome (symloss.zoo.ce_genome() -> symloss.Loss.from_genome),
- the modules of N distinct random valid genomes (symloss.Genome.random(rng)).

Each timing: warm-up iterations, then several blocks of iterations; the reported time is
the smallest block mean in microseconds (CUDA is synchronised around each block). Ratios
are loss time / cross_entropy time, the baseline timed before and after the losses (the
smaller kept); for the random genomes the median and the 90th percentile ratio are given.
torch's thread count is its default unless --threads is given, and recorded. The defaults (200 warm-up,
5 blocks of 500) keep a CPU run with 50 genomes within about two minutes.

Prints one JSON object. With --before CHECKOUT, that checkout is measured first (in a
subprocess, the same options) and each ratio is given as [before, after]. Run from the
repository root:

    python benchmarks/loss_overhead.py [--device cpu|cuda|all] [--genomes 50] [--seed 0] [--before DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import symloss
from common import machine, random_losses, run_under

BATCH = 128
CLASSES = (10, 100, 1000)
TARGETS = ("index", "soft")


def make_target(kind: str, classes: int, generator: torch.Generator) -> torch.Tensor:
    first = torch.randint(0, classes, (BATCH,), generator=generator)
    if kind == "index":
        return first
    second = (first + torch.randint(1, classes, (BATCH,), generator=generator)) % classes
    return 0.7 * F.one_hot(first, classes).float() + 0.3 * F.one_hot(second, classes).float()


def time_us(fn, classes: int, kind: str, device: str, warmup: int, blocks: int, iters: int) -> float:
    """Smallest block mean of one forward+backward step, in microseconds."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(BATCH, classes, generator=generator).to(device).requires_grad_()
    target = make_target(kind, classes, generator).to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        loss = fn(logits, target)
        loss.backward()
        logits.grad = None

    for _ in range(warmup):
        step()
    best = float("inf")
    for _ in range(blocks):
        sync()
        start = time.perf_counter()
        for _ in range(iters):
            step()
        sync()
        best = min(best, (time.perf_counter() - start) / iters)
    return best * 1e6


def measure_all(devices: list[str], genomes: int, seed: int, timing: dict) -> dict:
    """Per device, class count and target kind: cross_entropy, the CE genome, the random genomes."""
    ce = symloss.Loss.from_genome(symloss.zoo.ce_genome()).module()
    randoms = [loss.module() for loss in random_losses(genomes, seed)]
    results = {}
    for device in devices:
        for classes in CLASSES:
            for kind in TARGETS:
                measure = lambda fn: time_us(fn, classes, kind, device, **timing)  # noqa: E731
                before = measure(F.cross_entropy)
                ce_us = measure(ce)
                random_us = np.array([measure(m) for m in randoms])
                base = min(before, measure(F.cross_entropy))
                ratios = random_us / base
                results[f"{device}/C={classes}/{kind}"] = {
                    "cross_entropy_us": round(base, 2),
                    "ce_genome_us": round(ce_us, 2),
                    "ce_genome_ratio": round(ce_us / base, 3),
                    "random_us_median": round(float(np.median(random_us)), 2),
                    "random_ratio_median": round(float(np.median(ratios)), 3),
                    "random_ratio_p90": round(float(np.percentile(ratios, 90)), 3),
                    "random_ratio_max": round(float(ratios.max()), 3),
                }
    fused = {"ce_genome": ce.with_gradient is not None,  # module() default: fused autograd node
             "random_genomes": sum(m.with_gradient is not None for m in randoms),
             "random_genomes_at_class_indices": sum(getattr(m, "at_class_indices", None) is not None for m in randoms),
             "random_genomes_target_column_only": sum(getattr(getattr(m, "at_class_indices", None), "rest", 0) is None
                                                      for m in randoms)}
    return {"results": results, "fused": fused}


SIDE_BY_SIDE = ("ce_genome_ratio", "random_ratio_median", "random_ratio_p90")


def side_by_side(before: dict, after: dict) -> dict:
    """Each configuration's ratios as [before, after], then both checkouts' full figures."""
    return {config: {**{name: [before["results"].get(config, {}).get(name), figures[name]] for name in SIDE_BY_SIDE},
                     "before": before["results"].get(config), "after": figures}
            for config, figures in after["results"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="all: the CPU, and CUDA when available (default)")
    parser.add_argument("--genomes", type=int, default=50, help="distinct random genomes (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed (default 0)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up iterations (default 200)")
    parser.add_argument("--blocks", type=int, default=5, help="timed blocks (default 5)")
    parser.add_argument("--iters", type=int, default=500, help="iterations per block (default 500)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch's CPU threads (default: torch's own; 1 gives steadier figures on a small machine)")
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout, measured first with the same options: ratios side by side")
    args = parser.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("CUDA is not available")
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    timing = dict(warmup=args.warmup, blocks=args.blocks, iters=args.iters)
    if args.threads:
        torch.set_num_threads(args.threads)
    argv = ["--device", args.device, "--genomes", str(args.genomes), "--seed", str(args.seed),
            *(f"--{name}={value}" for name, value in timing.items()),
            *(["--threads", str(args.threads)] if args.threads else [])]
    before = run_under(args.before, __file__, argv) if args.before else None
    after = measure_all(devices, args.genomes, args.seed, timing)
    report = {"benchmark": "loss_overhead", "batch": BATCH, "genomes": args.genomes, "seed": args.seed,
              "timing": timing, "fused": after["fused"], "results": after["results"]}
    if before:
        report.update(before_checkout=str(args.before), fused_before=before["fused"],
                      results=side_by_side(before, after))
    print(json.dumps({**report, "machine": machine("cuda" in devices), "load_average": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
