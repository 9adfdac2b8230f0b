"""Where evaluations run: in this process, in worker processes, packed, or as Ray tasks.

An executor runs picklable `fn(job)` calls and hands back futures; the search keeps up to
`concurrency` of them in flight, calls `flush()` before it waits, collects finished ones
inside `settled()`, and writes every result to the store itself (workers never touch the
store). Choose one with `ExecutorSpec`:

- local:  one at a time in this process, or `concurrency` spawned worker processes (each
          on its own GPU where there are several);
- packed: jobs of the same setting trained together as one packed model (`Trainer.pack`),
          packs of `pack_size` in this process or in worker processes;
- ray:    each evaluation (or pack) a Ray task with `gpus_per_eval` GPUs; a task lost with
          its worker is retried, and a result only ever reaches the driver once.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Callable

from .errors import ConfigError, ExecutorError

KINDS = ("auto", "local", "packed", "ray")
RAY_RETRIES = 3
AUTO_PACK = 2  # losses per pack on a CPU (the fastest measured on 2 cores: benchmarks/main_job.py)
AUTO_MAX_WORKERS = 8


@dataclass(frozen=True)
class ExecutorSpec:
    """How to run evaluations (the CLI's --executor, --concurrency, --pack-size, --gpus-per-eval,
    --ray-address)."""

    kind: str = "local"
    concurrency: int = 1  # evaluations in flight
    pack_size: int | None = None  # members per pack (packed: default concurrency; ray: default 1)
    gpus_per_eval: float | None = None  # ray: GPUs per evaluation (default: 1 on a cluster with GPUs, else 0)
    ray_address: str | None = None  # ray: an existing cluster to join (default: start a local one)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"unknown executor {self.kind!r} (known: {', '.join(KINDS)})")
        if self.concurrency < 1 or (self.pack_size is not None and self.pack_size < 1):
            raise ConfigError("concurrency and pack size must be at least 1")
        if self.gpus_per_eval is not None and not 0 <= self.gpus_per_eval <= 1:
            raise ConfigError("GPUs per evaluation must be between 0 and 1 (a training uses one GPU)")
        if self.kind != "ray" and (self.ray_address or self.gpus_per_eval is not None):
            raise ConfigError("--ray-address and --gpus-per-eval need --executor ray")
        if self.kind == "local" and self.pack_size is not None:
            raise ConfigError("--pack-size needs --executor packed or ray")

    def resolved(self) -> "ExecutorSpec":
        """The spec itself; `auto` is packed with a pack size given, local with a concurrency
        above 1, else the machine's choice (`for_machine`)."""
        if self.kind != "auto":
            return self
        if self.pack_size is not None:
            return ExecutorSpec("packed", self.concurrency, self.pack_size)
        return ExecutorSpec("local", self.concurrency) if self.concurrency > 1 else for_machine()

    def describe(self) -> dict:
        """The resolved spec as plain data (what a run records)."""
        spec = self.resolved()
        return {"kind": spec.kind, "concurrency": spec.concurrency, "pack_size": spec.pack_size}

    def make(self):
        if self.kind == "auto":
            return self.resolved().make()
        size = min(self.pack_size or (self.concurrency if self.kind == "packed" else 1), self.concurrency)
        carriers = math.ceil(self.concurrency / size)  # packs (or single jobs) in flight
        if self.kind == "ray":
            backend = RayTasks(carriers, self.ray_address, self.gpus_per_eval)
        else:
            backend = InProcess() if carriers == 1 else Pool(carriers)
        return backend if size == 1 else Packing(backend, size, self.concurrency)


def for_machine() -> ExecutorSpec:
    """What `auto` runs: with CUDA, one evaluation per GPU (packing there is not measured yet); on
    a CPU, packs of AUTO_PACK losses, one pack at a time in each of one worker process per core
    (at most AUTO_MAX_WORKERS)."""
    import torch

    if torch.cuda.is_available():
        return ExecutorSpec("local", torch.cuda.device_count())
    workers = max(1, min(os.cpu_count() or 1, AUTO_MAX_WORKERS))
    return ExecutorSpec("packed", concurrency=AUTO_PACK * workers, pack_size=AUTO_PACK)


def machine_precision() -> str:
    """The precision the main job picks: bf16 on CUDA, fp32 on a CPU. (On this project's CPU with
    bf16 instructions bf16 ran the demo search 1.21x faster, but its best fitness came out 0.008-0.011
    lower on each of 3 seeds while CE's did not drop: benchmarks/main_job.py; `--precision bf16` opts in.)"""
    import torch

    return "bf16" if torch.cuda.is_available() else "fp32"


def make(spec: ExecutorSpec | int):
    """The executor a spec describes (an int: that many local evaluations in flight)."""
    return (ExecutorSpec(concurrency=spec) if isinstance(spec, int) else spec).make()


@contextmanager
def running(spec: "ExecutorLike"):
    """The executor for a spec (or int), closed afterwards; an executor is used as it is and
    left to whoever made it."""
    if isinstance(spec, Executor):
        yield spec
        return
    executor = make(spec)
    try:
        yield executor
    finally:
        executor.close()


class Executor:
    """What every executor offers besides `submit(fn, job) -> Future` and `concurrency`."""

    def flush(self) -> None:
        """Send whatever is held back (a packing executor's partial packs)."""

    def settled(self):
        """A context in which no results are being handed out (a finished pack's all or none)."""
        return nullcontext()

    def close(self) -> None:
        """Give back processes and clusters; futures not yet done are cancelled."""


class InProcess(Executor):
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


class Pool(Executor):
    """`concurrency` worker processes (spawned: safe with torch and CUDA); with several GPUs,
    worker i trains on GPU i mod count."""

    def __init__(self, concurrency: int):
        self.concurrency = concurrency
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=concurrency, mp_context=context, initializer=_init_worker,
                                        initargs=(concurrency, context.Value("i", 0)))

    def submit(self, fn: Callable, job) -> Future:
        return self.pool.submit(fn, job)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _init_worker(workers: int, counter) -> None:
    """Share the CPU cores among the workers instead of oversubscribing them; spread them over GPUs."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    with counter.get_lock():
        index, counter.value = counter.value, counter.value + 1
    if torch.cuda.is_available():
        torch.cuda.set_device(index % torch.cuda.device_count())


@dataclass(frozen=True)
class Trainer:
    """A job function that can also run a pack: `one(job)` alone (what calling it does), and
    `pack(jobs)` for jobs of one setting together (each job's result, or the exception it raised).
    Packing executors hand a Trainer's packs to `pack`, and run a plain function's one by one."""

    one: Callable[[Any], Any]
    pack: Callable[[list], list]

    def __call__(self, job):
        return self.one(job)


@dataclass
class Pack:
    """Jobs of one setting, to run together by `fn`."""

    fn: Callable
    jobs: list


def run_pack(pack: Pack) -> list:
    """Each job's result, or the exception it raised (runs in the worker)."""
    if isinstance(pack.fn, Trainer):
        return pack.fn.pack(pack.jobs)
    results: list[Any] = []
    for job in pack.jobs:
        try:
            results.append(pack.fn(job))
        except Exception as error:  # noqa: BLE001 - handed to that job's future
            results.append(error)
    return results


class Packing(Executor):
    """Groups jobs of the same setting into packs of `size` and runs each pack as one job of
    `backend`; `flush()` sends the partial packs (the search calls it before it waits)."""

    def __init__(self, backend, size: int, concurrency: int | None = None):
        self.backend, self.size = backend, size
        self.concurrency = concurrency or size * backend.concurrency
        self.waiting: dict[tuple, list[tuple[Any, Future]]] = {}
        self.handing_out = threading.RLock()  # held while a pack's results go to its futures

    def submit(self, fn: Callable, job) -> Future:
        future: Future = Future()
        key = (fn, getattr(job, "setting", None), getattr(job, "data_root", None))
        self.waiting.setdefault(key, []).append((job, future))
        if len(self.waiting[key]) == self.size:
            self._send(fn, self.waiting.pop(key))
        return future

    def flush(self) -> None:
        while self.waiting:
            (fn, *_), group = self.waiting.popitem()
            self._send(fn, group)

    def settled(self):
        return self.handing_out

    def _send(self, fn: Callable, group: list[tuple[Any, Future]]) -> None:
        group = [(job, future) for job, future in group if future.set_running_or_notify_cancel()]
        if not group:
            return
        futures = [future for _, future in group]
        self.backend.submit(run_pack, Pack(fn, [job for job, _ in group])).add_done_callback(
            lambda done: self._hand_out(done, futures))

    def _hand_out(self, done: Future, futures: list[Future]) -> None:
        """A finished pack's results (or its error) to its jobs' futures, all at once."""
        with self.handing_out:
            error = ExecutorError("a pack was cancelled") if done.cancelled() else done.exception()
            results = done.result() if error is None else [error] * len(futures)
            if len(results) != len(futures):
                results = [ExecutorError(f"a pack of {len(futures)} returned {len(results)} results")] * len(futures)
            for future, result in zip(futures, results):
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def close(self) -> None:
        self.waiting.clear()
        self.backend.close()


class RayTasks(Executor):
    """Jobs as Ray tasks on a local or joined cluster; only the driver writes the store."""

    def __init__(self, concurrency: int, address: str | None = None, gpus_per_eval: float | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'symloss[ray]'") from None
        self.ray, self.concurrency = ray, concurrency
        self.started_here = not ray.is_initialized()
        if self.started_here:
            try:
                ray.init(address=address, include_dashboard=False, logging_level="error", log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise ExecutorError(f"cannot start or join a Ray cluster at {address or 'a new local one'}: "
                                    f"{error}") from None
        try:
            self.gpus_per_eval = _gpus_per_eval(gpus_per_eval, ray.cluster_resources().get("GPU", 0))
        except ConfigError:
            self.close()
            raise
        self.task = ray.remote(_run_task)

    def submit(self, fn: Callable, job) -> Future:
        members = len(job.jobs) if isinstance(job, Pack) else 1
        gpus = min(1.0, self.gpus_per_eval * members)  # a pack trains on one GPU
        reference = self.task.options(num_cpus=1, num_gpus=gpus, max_retries=RAY_RETRIES,
                                      retry_exceptions=False).remote(fn, job)
        future: Future = Future()
        reference.future().add_done_callback(lambda done: self._settle(done, future))
        return future

    def _settle(self, done: Future, future: Future) -> None:
        """A task's own error goes to the job; a lost task (after its retries) stops the search."""
        if done.cancelled():
            future.set_exception(ExecutorError("a Ray task was cancelled"))
            return
        error = done.exception()
        if error is None:
            future.set_result(done.result())
        elif isinstance(error, self.ray.exceptions.RayTaskError):
            future.set_exception(error.cause if isinstance(error.cause, BaseException) else error)
        else:
            future.set_exception(ExecutorError(f"Ray lost an evaluation after {RAY_RETRIES} retries: {error}"))

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()


def _gpus_per_eval(asked: float | None, cluster_gpus: float) -> float:
    """GPUs per evaluation: 1 by default where the cluster has GPUs; 0 there would crowd GPU 0
    with trainings Ray does not account for."""
    if asked is None:
        return 1.0 if cluster_gpus else 0.0
    if asked and not cluster_gpus:
        raise ConfigError(f"--gpus-per-eval {asked}: the Ray cluster has no GPUs")
    if not asked and cluster_gpus:
        raise ConfigError("the Ray cluster has GPUs: give --gpus-per-eval above 0 (0.25: four trainings per GPU)")
    return asked


def _run_task(fn: Callable, job):
    """A Ray task's body: the job, as a worker process would run it."""
    return fn(job)


ExecutorLike = ExecutorSpec | int | Executor  # what the search, study and elimination entry points take
