"""Random search: N random valid losses with distinct keys, each trained under each technique."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import ExpressionError
from ..genome import Genome
from ..store import Store
from ..train import Evaluation
from .driver import Pending, drive
from .jobs import Candidate, Job

RANDOM_STREAM = 0
STAGE = "random"


def plan(seed: int, count: int) -> list[Candidate]:
    """The run's random candidates: the first `count` distinct keys of one seeded stream."""
    rng = np.random.default_rng([seed, RANDOM_STREAM])
    candidates, keys = [], set()
    while len(candidates) < count:
        candidate = Candidate(Genome.random(rng))
        try:
            key = candidate.key
        except ExpressionError:
            continue
        if key not in keys:
            keys.add(key)
            candidates.append(candidate)
    return candidates


def record(store: Store, run_id: int, stage: str, pending: Pending, candidate: Candidate,
           iteration: int | None, evaluation: Evaluation | None) -> int:
    """Write one evaluation (a training, or a reuse of an earlier one); the caller commits."""
    job, cached = pending.job, pending.cached
    candidate.save(store)
    common = dict(run_id=run_id, stage=stage, setting=job.setting, technique=job.technique, preset=job.preset,
                  seed=job.seed, key=candidate.key, genome=job.genome, iteration=iteration)
    if evaluation is None:
        return store.add_evaluation(**common, fitness=cached.fitness, status=cached.status, reason=cached.reason,
                                    steps=0, wall_s=0.0, reused_from=cached.id)
    return store.add_evaluation(**common, fitness=evaluation.fitness, status=evaluation.status,
                                reason=evaluation.reason, steps=evaluation.steps, wall_s=evaluation.wall_s)


def recording(store: Store, run_id: int, stage: str, progress: Callable[[dict], None] | None):
    """The `complete` of a stage that only records: one committed row per result, then progress.
    Its Pending contexts are (candidate, iteration)."""
    def complete(pending: Pending, evaluation: Evaluation | None) -> None:
        candidate, iteration = pending.context
        with store.transaction():
            record(store, run_id, stage, pending, candidate, iteration, evaluation)
        if progress:
            progress({"fitness": evaluation.fitness if evaluation else pending.cached.fitness})
    return complete


def random_search(store: Store, run_id: int, candidates: Sequence[Candidate], techniques: Sequence[str],
                  make_job: Callable[[Candidate, str], Job], executor, fn,
                  progress: Callable[[dict], None] | None = None) -> None:
    """Evaluate every candidate under every technique, unless this run has in the same setting."""
    done = {(e.setting, e.key) for e in store.evaluations(run_id, STAGE)}
    jobs = [(index, c, make_job(c, t)) for t in techniques for index, c in enumerate(candidates)]
    todo = iter([(index, c, job) for index, c, job in jobs if (job.setting, c.key) not in done])

    def propose() -> Pending | None:
        item = next(todo, None)
        if item is None:
            return None
        index, candidate, job = item
        return Pending(job, store.find_training(job.setting, candidate.key), (candidate, index))

    drive(executor, fn, propose, recording(store, run_id, STAGE, progress))
