"""Where evaluations run: in this process one at a time, or in a pool of worker processes.

An executor runs picklable `fn(job)` calls and hands back futures; the search keeps up to
`concurrency` of them in flight and writes every result to the store itself (workers
never touch the store).
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable


class InProcess:
    """Runs each job at once, in this process (concurrency 1)."""

    concurrency = 1

    def submit(self, fn: Callable, job) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(job))
        except BaseException as error:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(error, KeyboardInterrupt):
                raise
            future.set_exception(error)
        return future

    def close(self) -> None:
        pass


class Pool:
    """`concurrency` worker processes (spawned: safe with torch and CUDA)."""

    def __init__(self, concurrency: int):
        self.concurrency = concurrency
        self.pool = ProcessPoolExecutor(max_workers=concurrency, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_limit_threads, initargs=(concurrency,))

    def submit(self, fn: Callable, job) -> Future:
        return self.pool.submit(fn, job)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _limit_threads(workers: int) -> None:
    """Share the CPU cores among the workers instead of oversubscribing them."""
    import os

    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def make(concurrency: int = 1):
    """The executor for `concurrency` evaluations in flight."""
    return InProcess() if concurrency <= 1 else Pool(concurrency)
