"""What the search evaluates: candidates (genome + loss + phenotype) and picklable training jobs."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp

from .. import train
from ..errors import ConfigError
from ..executors import Trainer
from ..genome import Genome
from ..loss import SAVE_FORMAT, Loss
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
            store.add_genome(self.key, self.genome.to_dict(), self.loss.text(), self.loss.latex(), self.phenotype)


@dataclass(frozen=True)
class Job:
    """One training of one genome: everything a worker process needs, picklable."""

    genome: dict
    technique: str
    preset: str
    seed: int
    data_root: str | None = None
    overrides: tuple = field(default=())  # (name, value) pairs for the training preset
    expression: str | None = None  # the loss as sympy.srepr: a worker reads it back instead of simplifying

    @classmethod
    def of(cls, candidate: Candidate, technique: str, preset: str, seed: int, data_root: str | None = None,
           overrides: tuple = ()) -> "Job":
        """The training of a candidate, carrying its simplified expression."""
        return cls(candidate.genome.to_dict(), technique, preset, seed, data_root, overrides,
                   sp.srepr(candidate.loss.expr))

    def loss(self) -> Loss:
        """The job's loss: its saved expression read back (the genome simplified again only without one)."""
        if self.expression is None:
            return Loss.from_genome(Genome.from_dict(self.genome))
        return Loss.from_dict({"format": SAVE_FORMAT, "expression": self.expression, "genome": self.genome})

    @property
    def setting(self) -> str:
        """What makes two trainings of the same loss the same: preset, technique, seed, overrides."""
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.overrides))
        return f"{self.preset}|{self.technique}|seed={self.seed}|{extra}"


def train_one(job: Job) -> Evaluation:
    """Train the job's genome with the real trainer (runs in a worker process, too)."""
    (outcome,) = train_pack([job])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def train_pack(jobs: list[Job]) -> list[Evaluation | Exception]:
    """Train jobs of one setting together, as one packed model (executors' packs); a job
    whose loss cannot be built gets its error, the others train."""
    first = jobs[0]
    if any((job.setting, job.data_root) != (first.setting, first.data_root) for job in jobs):
        raise ConfigError("a pack holds jobs of one setting (preset, technique, seed, options, data)")
    outcomes: dict[int, Evaluation | Exception] = {}
    losses = {}
    for index, job in enumerate(jobs):
        try:
            loss = job.loss()
            loss.module()  # compiled here (and cached), so that a loss failing to compile fails alone
            losses[index] = loss
        except Exception as error:  # noqa: BLE001 - handed to that job alone
            outcomes[index] = error
    if losses:  # the trainer makes their criteria, with the setting's label smoothing
        evaluations = train.evaluate_pack(list(losses.values()), first.preset, first.technique, first.seed,
                                          data_root=first.data_root, **dict(first.overrides))
        outcomes.update(zip(losses, evaluations))
    return [outcomes[index] for index in range(len(jobs))]


train_job = Trainer(train_one, train_pack)  # what the search hands its executor: one job alone, or a pack
