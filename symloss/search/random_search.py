"""Random search: N random valid losses with distinct keys, each trained under each technique."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import ExpressionError
from ..genome import Genome
from ..store import Store
from .driver import Pending, SearchContext
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


def train_candidates(ctx: SearchContext, candidates: Sequence[Candidate], techniques: Sequence[str]) -> None:
    """Evaluate every candidate under every technique, unless the run has in the same setting."""
    done = {(e.setting, e.key) for e in ctx.store.evaluations(ctx.run_id, STAGE)}
    jobs = [(index, c, ctx.make_job(c, t)) for t in techniques for index, c in enumerate(candidates)]
    todo = iter([(index, c, job) for index, c, job in jobs if (job.setting, c.key) not in done])

    def propose() -> Pending | None:
        item = next(todo, None)
        if item is None:
            return None
        index, candidate, job = item
        return ctx.pending(candidate, job, (candidate, index))

    ctx.run(STAGE, propose)


def random_search(store: Store, run_id: int, candidates: Sequence[Candidate], techniques: Sequence[str],
                  make_job: Callable[[Candidate, str], Job], executor, fn,
                  progress: Callable[[dict], None] | None = None) -> None:
    """`train_candidates` with its context spelled out (the older call)."""
    train_candidates(SearchContext(store, run_id, make_job, executor, fn, progress), candidates, techniques)
