"""Benchmark of a training step: resnet9v2 at batch 128 with symbolic losses against cross_entropy.

One step, as in symloss/train.py: forward of `symloss.models.build("resnet9v2", 10)` on a
fixed random batch torch.randn(128, 3, 32, 32), the criterion on the float32 logits and
one-hot float targets (B, C), zero_grad, backward, torch.optim.Adam (lr 1e-3) step. On
CUDA the model and input are channels_last and the forward runs under bf16 autocast; on
the CPU everything is plain float32 (the trainer's divergence check is left out). The criteria:

- "ce_native": torch.nn.functional.cross_entropy(logits, soft_targets) (the baseline),
- "ce_genome": the module of the CE genome (symloss.zoo.ce_genome() -> symloss.Loss.from_genome),
- the modules of N distinct random valid genomes (symloss.Genome.random(rng)).

The machine is noisy, so the losses are timed in interleaved rounds: after a model
warm-up and one untimed step per loss, each round times every loss for a few steps; a
loss's time is its median over the rounds. Before each loss's steps the model weights
(and BatchNorm buffers) are restored from one state_dict and the Adam moments zeroed, so
every loss runs the same model from the same start. CUDA is synchronised around each
timed block. Reported per device: ms per step, ratios to ce_native (ce_genome, median and
max random genome), images/s for ce_native, and separately the criterion alone
(forward+backward on (B, C) float32 logits, no model; interleaved rounds of 200 calls, the
smallest round mean kept) in microseconds, to show the absolute loss overhead.

A CPU step takes about 1 s on 2 cores: the CPU defaults (3 warm-up steps, 7 rounds of 1
step, 179 steps in all with 20 genomes) take three to five minutes. CUDA defaults to 20
warm-up steps and 7 rounds of 20.

Prints one JSON object. Run from the repository root:

    python benchmarks/train.py [--device cpu|cuda|all] [--genomes 20] [--seed 0] [--steps N] [--rounds R]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

import symloss
from common import machine, random_losses
import symloss.models

MODEL = "resnet9v2"
BATCH = 128
CLASSES = 10
DEFAULTS = {"cpu": dict(warmup=3, rounds=7, steps=1), "cuda": dict(warmup=20, rounds=7, steps=20)}
CRITERION_TIMING = dict(warmup=50, rounds=7, iters=200)  # criterion alone: iterations per round


def interleaved(criteria: dict, run, warmup: int, rounds: int, reduce=np.median) -> dict[str, float]:
    """Per criterion, `reduce` over rounds of the seconds per unit of `run(fn, None)`."""
    for fn in criteria.values():
        run(fn, warmup)
    times: dict[str, list[float]] = {name: [] for name in criteria}
    for _ in range(rounds):
        for name, fn in criteria.items():
            times[name].append(run(fn, None))
    return {name: float(reduce(t)) for name, t in times.items()}


def step_times(criteria: dict, device: str, warmup: int, rounds: int, steps: int) -> dict[str, float]:
    """Median seconds per training step for each criterion."""
    cuda = device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(0)
    model = symloss.models.build(MODEL, CLASSES).to(device)
    images = torch.randn(BATCH, 3, 32, 32).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    targets = F.one_hot(torch.randint(0, CLASSES, (BATCH,)), CLASSES).float().to(device)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(criterion):
        with torch.autocast(device, dtype=torch.bfloat16, enabled=cuda):
            logits = model(images).float()
        loss = criterion(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def run(criterion, untimed: int | None) -> float:
        model.load_state_dict(initial)  # same weights, BatchNorm buffers and fresh Adam moments
        for state in optimizer.state.values():
            for value in state.values():
                value.zero_()
        n = steps if untimed is None else untimed
        sync()
        start = time.perf_counter()
        for _ in range(n):
            step(criterion)
        sync()
        return (time.perf_counter() - start) / max(1, n)

    run(F.cross_entropy, warmup)  # warm the model up once; then one untimed step per loss
    return interleaved(criteria, run, 1, rounds)


def criterion_times(criteria: dict, device: str, warmup: int, rounds: int, iters: int) -> dict[str, float]:
    """Smallest round mean of seconds per criterion forward+backward on (B, C) float32 logits."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(BATCH, CLASSES, generator=generator).to(device).requires_grad_()
    targets = F.one_hot(torch.randint(0, CLASSES, (BATCH,), generator=generator), CLASSES).float().to(device)

    def run(criterion, untimed: int | None) -> float:
        n = iters if untimed is None else untimed
        sync()
        start = time.perf_counter()
        for _ in range(n):
            criterion(logits, targets).backward()
            logits.grad = None
        sync()
        return (time.perf_counter() - start) / n

    return interleaved(criteria, run, warmup, rounds, reduce=np.min)  # min: microseconds are fragile


def summary(seconds: dict[str, float], names: list[str], scale: float, digits: int) -> dict:
    randoms = np.array([seconds[n] for n in names]) * scale
    return {"ce_native": round(seconds["ce_native"] * scale, digits),
            "ce_genome": round(seconds["ce_genome"] * scale, digits),
            "random_median": round(float(np.median(randoms)), digits),
            "random_max": round(float(randoms.max()), digits),
            "random": [round(float(t), digits) for t in randoms]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="all: the CPU, and CUDA when available (default)")
    parser.add_argument("--genomes", type=int, default=20, help="distinct random genomes (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed (default 0)")
    parser.add_argument("--warmup", type=int, help="model warm-up steps (default 3 on the CPU, 20 on CUDA)")
    parser.add_argument("--steps", type=int,
                        help="timed steps per loss per round (default 1 on the CPU, 20 on CUDA)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 7)")
    args = parser.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("CUDA is not available")
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]

    started = time.perf_counter()
    randoms = random_losses(args.genomes, args.seed)
    names = [f"random_{i}" for i in range(len(randoms))]
    criteria = {"ce_native": F.cross_entropy,
                "ce_genome": symloss.Loss.from_genome(symloss.zoo.ce_genome()).module(),
                **{name: loss.module() for name, loss in zip(names, randoms)}}

    results = {}
    for device in devices:
        timing = {k: v if getattr(args, k) is None else getattr(args, k) for k, v in DEFAULTS[device].items()}
        steps = step_times(criteria, device, **timing)
        alone = criterion_times(criteria, device, **CRITERION_TIMING)
        step_ms = summary(steps, names, 1e3, 2)
        alone_us = summary(alone, names, 1e6, 2)
        base = steps["ce_native"]
        random_s = np.array([steps[n] for n in names])
        overhead_s = float(np.median([alone[n] for n in names])) - alone["ce_native"]
        results[device] = {
            "timing": timing,
            "step_ms": step_ms,
            "ratio": {"ce_genome": round(steps["ce_genome"] / base, 3),
                      "random_median": round(float(np.median(random_s)) / base, 3),
                      "random_max": round(float(random_s.max()) / base, 3)},
            "images_per_s_ce_native": round(BATCH / base, 1),
            "criterion_only_us": {k: v for k, v in alone_us.items() if k != "random"},
            "criterion_overhead": {"random_median_minus_ce_native_us": round(overhead_s * 1e6, 2),
                                   "fraction_of_ce_native_step": round(overhead_s / base, 6)},
        }

    print(json.dumps({
        "benchmark": "train",
        "model": MODEL,
        "batch": BATCH,
        "classes": CLASSES,
        "input": [3, 32, 32],
        "genomes": [str(loss) for loss in randoms],
        "seed": args.seed,
        "criterion_timing": CRITERION_TIMING,
        "results": results,
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": machine("cuda" in devices),
    }, indent=2))


if __name__ == "__main__":
    main()
