"""The steady-state loop every search stage shares: keep K jobs in flight, record each result.

`propose()` returns the next Pending job (or None when there is none for now); `complete`
is called once per job, in the order results arrive, with the Evaluation or, for a job
that needs no training (its loss was already trained in the same setting), with None.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ExecutorError, SymlossError
from ..store import EvaluationRow
from ..train import Evaluation
from .jobs import Job

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
