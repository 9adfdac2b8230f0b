"""What the benchmark scripts share: distinct random losses and a description of the machine."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import symloss


def random_losses(n: int, seed: int) -> list[symloss.Loss]:
    """The losses of the first n distinct random valid genomes of a seeded stream."""
    rng = np.random.default_rng(seed)
    genomes: list[symloss.Genome] = []
    while len(genomes) < n:
        genome = symloss.Genome.random(rng)
        if genome not in genomes:
            genomes.append(genome)
    return [symloss.Loss.from_genome(g) for g in genomes]


def machine(cuda: bool = False) -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "symloss": symloss.__version__,
            "cpu_count": os.cpu_count(), "torch_num_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name() if cuda else None}


def linked(checkout: Path, where: Path) -> Path:
    """A directory whose `symloss` and `symloss_cli` are a checkout's packages: put first on
    PYTHONPATH, it runs that checkout without installing it."""
    where.mkdir(parents=True)
    (where / "symloss").symlink_to(Path(checkout).resolve() / "symloss")
    (where / "symloss_cli").symlink_to(Path(checkout).resolve() / "cli")
    return where


def run_under(checkout: Path, script: str, argv: list[str]) -> dict:
    """The JSON a benchmark script prints when run with another checkout first on the path."""
    with tempfile.TemporaryDirectory() as temporary:
        path = linked(checkout, Path(temporary) / "path")
        done = subprocess.run([sys.executable, script, *argv], env={**os.environ, "PYTHONPATH": str(path)},
                              capture_output=True, text=True, check=True)
    return json.loads(done.stdout)
