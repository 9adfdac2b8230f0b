"""A cheap deterministic stand-in for training, for search tests (picklable for worker processes)."""
import hashlib

from symloss.executors import Trainer
from symloss.genome import Genome
from symloss.loss import Loss
from symloss.train import Evaluation


def fitness_of(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 16**8


def standin_job(job) -> Evaluation:
    """Fitness from the loss key; one loss in seven 'diverges'."""
    key = Loss.from_genome(Genome.from_dict(job.genome)).key
    if int(key[:6], 16) % 7 == 0:
        return Evaluation(0.0, "diverged", "non-finite loss (stand-in)", 3, 0.0)
    return Evaluation(fitness_of(key + job.setting), "ok", None, 10, 0.0)


class Counting:
    """standin_job that counts its calls and can fail after `limit` of them (an interruption)."""

    def __init__(self, limit=None):
        self.calls, self.limit = 0, limit

    def __call__(self, job) -> Evaluation:
        if self.limit is not None and self.calls >= self.limit:
            raise KeyboardInterrupt
        self.calls += 1
        return standin_job(job)


PACKS: list[int] = []  # the size of every pack packed_standin trained (in this process)


def _standin_pack(jobs) -> list[Evaluation]:
    PACKS.append(len(jobs))
    return [standin_job(job) for job in jobs]


packed_standin = Trainer(standin_job, _standin_pack)  # executors.Packing calls `packed_standin.pack(jobs)`
