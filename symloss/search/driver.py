"""The steady-state loop every search stage shares: keep K jobs in flight, record each result.

`propose()` returns the next Pending job (or None when there is none for now); `complete`
is called once per job, in the order results arrive, with the Evaluation or, for a job
that needs no training (its loss was already trained in the same setting), with None.
A SearchContext holds what every stage passes along: the store and run its rows go to, how
a candidate becomes a job, where jobs run and who hears of each result.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ExecutorError, SymlossError
from ..store import EvaluationRow, Store
from ..train import Evaluation
from .jobs import Candidate, Job

MAX_REASON = 500


@dataclass
class Pending:
    job: Job
    cached: EvaluationRow | None  # the earlier training of the same loss in the same setting
    context: Any  # whatever the stage needs back in `complete`


def failure(error: BaseException) -> Evaluation:
    """A crashed evaluation scores 0 and keeps its reason; the search goes on."""
    evaluation = Evaluation.failed(error)
    evaluation.reason = evaluation.reason[:MAX_REASON]
    return evaluation


def drive(executor, fn: Callable[[Job], Evaluation], propose: Callable[[], Pending | None],
          complete: Callable[[Pending, Evaluation | None], None]) -> None:
    """Run proposals through `executor` until `propose` has none and nothing is in flight
    (`flush` before each wait sends the jobs a packing executor still holds; results are
    collected when no pack is half handed out, so packs stay whole)."""
    in_flight: dict[Future, Pending] = {}
    try:
        while True:
            while len(in_flight) < executor.concurrency:
                pending = propose()
                if pending is None:
                    break
                if pending.cached is not None:
                    complete(pending, None)
                    continue
                in_flight[executor.submit(fn, pending.job)] = pending
            executor.flush()
            if not in_flight:
                return
            wait(in_flight, return_when=FIRST_COMPLETED)
            with executor.settled():
                done = [f for f in in_flight if f.done()]
            for future in done:
                pending = in_flight.pop(future)
                complete(pending, _result(future))
    except BrokenExecutor as error:
        raise ExecutorError(f"a worker process died ({error}); resume the run to go on") from error
    finally:
        for future in in_flight:
            future.cancel()


def _result(future: Future) -> Evaluation:
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, (SymlossError, BrokenExecutor)):  # configuration, data or lost workers: stop here
        raise error
    return failure(error)


@dataclass(frozen=True)
class SearchContext:
    """The run a stage records into and how its jobs are made and trained."""

    store: Store
    run_id: int
    make_job: Callable[..., Job]  # (candidate, technique[, elimination stage]) -> Job
    executor: Any
    fn: Callable[[Job], Evaluation]
    progress: Callable[[dict], None] | None = None  # told {"fitness": ...} per result (evolution: per iteration)

    def pending(self, candidate: Candidate, job: Job, context: Any) -> Pending:
        """`job`, with the earlier training of the candidate in the same setting if there is one."""
        return Pending(job, self.store.find_training(job.setting, candidate.key), context)

    def drive(self, propose: Callable[[], Pending | None],
              complete: Callable[[Pending, Evaluation | None], None]) -> None:
        drive(self.executor, self.fn, propose, complete)

    def record(self, stage: str, pending: Pending, candidate: Candidate, iteration: int | None,
               evaluation: Evaluation | None) -> int:
        """Write one evaluation (a training, or a reuse of an earlier one); the caller commits."""
        job, cached = pending.job, pending.cached
        candidate.save(self.store)
        common = dict(run_id=self.run_id, stage=stage, setting=job.setting, technique=job.technique,
                      preset=job.preset, seed=job.seed, key=candidate.key, genome=job.genome, iteration=iteration)
        if evaluation is None:
            return self.store.add_evaluation(**common, fitness=cached.fitness, status=cached.status,
                                             reason=cached.reason, steps=0, wall_s=0.0, reused_from=cached.id)
        return self.store.add_evaluation(**common, fitness=evaluation.fitness, status=evaluation.status,
                                         reason=evaluation.reason, steps=evaluation.steps, wall_s=evaluation.wall_s)

    def report(self, fitness: float) -> None:
        if self.progress:
            self.progress({"fitness": fitness})

    def run(self, stage: str, propose: Callable[[], Pending | None]) -> None:
        """Drive jobs that only need recording (Pending contexts: (candidate, iteration)): one
        committed row of `stage` per result."""
        def complete(pending: Pending, evaluation: Evaluation | None) -> None:
            candidate, iteration = pending.context
            with self.store.transaction():
                self.record(stage, pending, candidate, iteration, evaluation)
            self.report((evaluation or pending.cached).fitness)
        self.drive(propose, complete)
