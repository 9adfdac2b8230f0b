"""Profile of one demo evaluation: where its time goes, before and after, side by side.

Trains the CE genome (and, with --pack 2, a second loss beside it, as the default main job's
packs do) with symloss.train.evaluate_pack on the `demo` preset under cProfile, and splits
the wall time of the training by the trainer's own functions, read from the profile's
caller table (names both the old and the new trainer have):

- augmentation: symloss/augment.py, entered from outside it;
- forward: `_Run._logits` called by `_Run._step`;
- loss: `_Run._losses` called by `_Run._step`;
- backward: torch's `Tensor.backward` called by `_Run._step`;
- optimiser and step bookkeeping: the rest of `_Run._step`;
- validation: `_Run._validate`;
- data and loop bookkeeping: the rest of `_train`.

Figures are per evaluation (a pack's divided by its size), in milliseconds, the smallest of
--repeats runs (after one untimed warm-up run). With --before CHECKOUT that checkout is
profiled first in a subprocess with its own defaults (--before-pack, --before-precision).
Prints one JSON object. Run from the repository root:

    python benchmarks/profile_evaluation.py --pack 2 --precision bf16 --before DIR
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
from pathlib import Path

from common import machine, run_under

PARTS = ("augmentation", "forward", "loss", "backward", "optimiser and step bookkeeping", "validation",
         "data and loop bookkeeping")


def cumulative(stats: pstats.Stats, name: str, caller: str | None = None, path: str = "symloss/train.py") -> float:
    """Cumulative seconds of the functions named `name` in a file ending with `path`
    (only their calls from functions named `caller`, when given)."""
    total = 0.0
    for (file, _, function), (_, _, _, ct, callers) in stats.stats.items():
        if function != name or not file.endswith(path):
            continue
        if caller is None:
            total += ct
        else:
            total += sum(c[3] for (_, _, f), c in callers.items() if f == caller)
    return total


def augmentation(stats: pstats.Stats) -> float:
    """Time in symloss/augment.py, counted where it is entered from elsewhere."""
    inside = lambda file: file.endswith("symloss/augment.py")  # noqa: E731
    return sum(c[3] for (file, _, _), (*_, callers) in stats.stats.items() if inside(file)
               for (caller_file, _, _), c in callers.items() if not inside(caller_file))


def split(stats: pstats.Stats, members: int) -> dict:
    total = cumulative(stats, "_train")
    step = cumulative(stats, "_step")
    parts = {"augmentation": augmentation(stats),
             "forward": cumulative(stats, "_logits", "_step"),
             "loss": cumulative(stats, "_losses", "_step"),
             "backward": cumulative(stats, "backward", "_step", "torch/_tensor.py")}
    parts["optimiser and step bookkeeping"] = step - parts["forward"] - parts["loss"] - parts["backward"]
    parts["validation"] = cumulative(stats, "_validate")
    parts["data and loop bookkeeping"] = total - step - parts["validation"] - parts["augmentation"]
    return {"total_ms": round(total * 1e3 / members, 1),
            **{name: round(parts[name] * 1e3 / members, 1) for name in PARTS}}


def profile_once(pack: int, precision: str, technique: str) -> dict:
    import symloss
    from symloss import presets, train, zoo

    losses = [symloss.Loss.from_genome(zoo.ce_genome()), symloss.Loss.parse("-y*log(yhat) + (y - yhat)**2")][:pack]
    losses += [losses[0]] * (pack - len(losses))
    config = presets.with_overrides(presets.get("demo"), precision=precision)
    profiler = cProfile.Profile()
    profiler.enable()
    train.evaluate_pack(losses, config, technique, 0)
    profiler.disable()
    return split(pstats.Stats(profiler), pack)


def profile(pack: int, precision: str, technique: str, repeats: int) -> dict:
    profile_once(pack, precision, technique)  # warm-up: data, model code paths
    runs = [profile_once(pack, precision, technique) for _ in range(repeats)]
    return {"pack": pack, "precision": precision, **min(runs, key=lambda r: r["total_ms"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=int, default=1, help="losses trained together (default 1)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--technique", default="base")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", type=Path, default=None, help="another checkout, profiled first")
    parser.add_argument("--before-pack", type=int, default=1)
    parser.add_argument("--before-precision", default="fp32", choices=("fp32", "bf16"))
    args = parser.parse_args()

    before = None
    if args.before:
        before = run_under(args.before, __file__, ["--pack", str(args.before_pack), "--precision", args.before_precision,
                                              "--technique", args.technique, "--repeats", str(args.repeats)])["after"]
    after = profile(args.pack, args.precision, args.technique, args.repeats)
    report = {"benchmark": "profile_evaluation", "preset": "demo", "technique": args.technique, "after": after}
    if before:
        report["before"] = before
        report["side_by_side_ms"] = {name: [before[name], after[name]] for name in ("total_ms", *PARTS)}
        report["total_ratio_before_over_after"] = round(before["total_ms"] / after["total_ms"], 3)
    print(json.dumps({**report, "machine": machine(), "load_average": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
