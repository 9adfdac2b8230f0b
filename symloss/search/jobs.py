"""What the search evaluates: candidates (genome + loss + phenotype) and picklable training jobs."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .. import train
from ..errors import ConfigError
from ..genome import Genome
from ..loss import Loss
from ..store import Store
from ..train import Evaluation


@dataclass(frozen=True)
class Candidate:
    """A genome with what the search needs of it: its loss (key) and normalised phenotype."""

    genome: Genome

    @cached_property
    def loss(self) -> Loss:
        return Loss.from_genome(self.genome)

    @property
    def key(self) -> str:
        return self.loss.key

    @cached_property
    def phenotype(self) -> np.ndarray:
        return self.genome.normalised_phenotype()

    def save(self, store: Store) -> None:
        """Record the genome, its formula, LaTeX and phenotype (once per key)."""
        if store.genome(self.key) is None:
            store.add_genome(self.key, self.genome.to_dict(), str(self.loss.expr), self.loss.latex(), self.phenotype)


@dataclass(frozen=True)
class Job:
    """One training of one genome: everything a worker process needs, picklable."""

    genome: dict
    technique: str
    preset: str
    seed: int
    data_root: str | None = None
    overrides: tuple = field(default=())  # (name, value) pairs for the training preset

    @property
    def setting(self) -> str:
        """What makes two trainings of the same loss the same: preset, technique, seed, overrides."""
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.overrides))
        return f"{self.preset}|{self.technique}|seed={self.seed}|{extra}"


def train_job(job: Job) -> Evaluation:
    """Train the job's genome with the real trainer (runs in a worker process, too)."""
    return train_pack([job])[0]


def train_pack(jobs: list[Job]) -> list[Evaluation]:
    """Train jobs of one setting together, as one packed model (executors' packs)."""
    first = jobs[0]
    if any((job.setting, job.data_root) != (first.setting, first.data_root) for job in jobs):
        raise ConfigError("a pack holds jobs of one setting (preset, technique, seed, options, data)")
    losses = [Loss.from_genome(Genome.from_dict(job.genome)) for job in jobs]
    return train.evaluate_pack(losses, first.preset, first.technique, first.seed, data_root=first.data_root,
                               **dict(first.overrides))


train_job.pack = train_pack  # how executors.Packing trains a pack of train_job calls
