"""Benchmark of the command line's latency: how long `symloss` takes to answer.

Runs each command and its references (`python -c pass`, `python -c "import sympy"`,
`python -c "import torch, sympy"`) as subprocesses, alternately, pair by pair (command,
reference, command, reference, ...), N times each after one untimed warm-up, and prints one
JSON object with the median wall times, and for each reference the ratio and the difference
(command - reference) side by side, next to the targets of issue #16:

- `symloss --help`, `symloss evolve --help`: at most 0.3 s, or 3x `python -c pass`;
- `symloss show ce`: at most `python -c "import torch, sympy"` + 0.5 s (its validity verdict
  evaluates the binary phenotype with torch);
- `symloss top RUN_DIR`, `symloss table tau STUDY_DIR`: measured, no target.

The run and the study are made first in a temporary directory (a tiny evolution and a
two-technique correlation study of 5 training steps each: about a minute on 2 CPU cores;
`--no-setup` skips them and the commands that need them). The commands run in that
temporary directory, so the `symloss` on PATH (or `--symloss`) decides which code is measured:
to measure another checkout, put a directory holding `symloss` and `symloss_cli` (links to its
symloss/ and cli/) first on PYTHONPATH. The load average of the machine is printed: on a
shared machine, compare medians of the same session only. Run from the repository root:

    python benchmarks/cli_latency.py [--repeats 7] [--symloss PATH] [--no-setup]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine

REFERENCES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import sympy'": [sys.executable, "-c", "import sympy"],
    "python -c 'import torch, sympy'": [sys.executable, "-c", "import torch, sympy"],
}
TINY_RUN = ["evolve", "--initial", "4", "--population", "2", "--tournament", "2", "--iterations", "2",
            "--steps", "5", "--seed", "0"]
TINY_STUDY = ["correlate", "--n", "2", "--techniques", "base,cutout", "--top-k", "2", "--steps", "5"]


def symloss_executable(given: str | None) -> str:
    """`--symloss`, else the `symloss` next to this Python, else the one on PATH."""
    if given:
        return given
    beside = Path(sys.executable).parent / "symloss"
    found = str(beside) if beside.exists() else shutil.which("symloss")
    if not found:
        raise SystemExit("no `symloss` command found: pip install -e . or give --symloss")
    return found


def wall(argv: list[str], cwd: str) -> float:
    """Seconds from start to exit of one subprocess; a failure stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return seconds


def measure(command: list[str], references: list[str], repeats: int, cwd: str) -> dict:
    """The command and its references run alternately `repeats` times (after one warm-up each)."""
    programs = {"command": command} | {name: REFERENCES[name] for name in references}
    for argv in programs.values():
        wall(argv, cwd)
    times: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(repeats):
        for name, argv in programs.items():
            times[name].append(wall(argv, cwd))
    median = {name: statistics.median(values) for name, values in times.items()}
    return {
        "median_s": round(median["command"], 3),
        "min_s": round(min(times["command"]), 3),
        "references": {name: {"median_s": round(median[name], 3),
                              "ratio": round(median["command"] / median[name], 2),
                              "difference_s": round(median["command"] - median[name], 3)}
                       for name in references},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each program (default 7)")
    parser.add_argument("--symloss", default=None, help="the symloss command (default: the one of this Python)")
    parser.add_argument("--no-setup", action="store_true", help="skip the tiny run and study, and top and table tau")
    args = parser.parse_args()
    symloss = symloss_executable(args.symloss)

    with tempfile.TemporaryDirectory(prefix="symloss-cli-latency-") as tmp:
        commands = {
            "symloss --help": (["--help"], ["python -c pass"], {"max_s": 0.3, "or_max_ratio": 3.0,
                                                                "reference": "python -c pass"}),
            "symloss evolve --help": (["evolve", "--help"], ["python -c pass"],
                                      {"max_s": 0.3, "or_max_ratio": 3.0, "reference": "python -c pass"}),
            "symloss show ce": (["show", "ce"], ["python -c 'import sympy'", "python -c 'import torch, sympy'"],
                                {"max_difference_s": 0.5, "reference": "python -c 'import torch, sympy'"}),
        }
        setup_s = None
        if not args.no_setup:
            start = time.perf_counter()
            wall([symloss, *TINY_RUN, "--run-dir", "run"], tmp)
            wall([symloss, *TINY_STUDY, "--run-dir", "study"], tmp)
            setup_s = round(time.perf_counter() - start, 1)
            commands["symloss top RUN_DIR"] = (["top", "run"], ["python -c 'import torch, sympy'"], None)
            commands["symloss table tau STUDY_DIR"] = (["table", "tau", "study", "--top-k", "2"],
                                                       ["python -c 'import torch, sympy'"], None)

        load_before = os.getloadavg()
        results = {}
        for name, (arguments, references, target) in commands.items():
            result = measure([symloss, *arguments], references, args.repeats, tmp)
            if target:
                reference = result["references"][target["reference"]]
                if "max_s" in target:
                    met = result["median_s"] <= target["max_s"] or reference["ratio"] <= target["or_max_ratio"]
                else:
                    met = reference["difference_s"] <= target["max_difference_s"]
                result["target"] = target | {"met": met}
            results[name] = result
        load_after = os.getloadavg()

    print(json.dumps({
        "benchmark": "cli_latency",
        "repeats": args.repeats,
        "symloss": symloss,
        "pythonpath": os.environ.get("PYTHONPATH"),
        "setup_s": setup_s,
        "commands": results,
        "load_average_1_5_15": {"before": [round(x, 2) for x in load_before],
                                "after": [round(x, 2) for x in load_after]},
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
