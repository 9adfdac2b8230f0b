"""Executors: packing groups jobs by setting, every stage runs unchanged on any executor."""
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from scipy.stats import kendalltau
from standin import PACKS, _standin_pack, packed_standin, standin_job

from symloss import ConfigError, ExecutorError, executors
from symloss.executors import Executor, ExecutorSpec, Packing, Trainer, _gpus_per_eval
from symloss.search import EvolutionConfig, evolve
from symloss.search.driver import Pending, drive
from symloss.search.jobs import Job
from symloss.search.random_search import plan, random_search
from symloss.store import Store

def make_job(candidate, technique):
    return Job(candidate.genome.to_dict(), technique, "demo", 0)


class Recorder(Executor):
    """An InProcess backend that records the size of every call it runs."""

    concurrency = 1

    def __init__(self):
        self.inner, self.sizes = executors.InProcess(), []

    def submit(self, fn, job):
        self.sizes.append(len(job.jobs))
        return self.inner.submit(fn, job)


def test_packing_groups_jobs_of_one_setting_and_flush_sends_the_rest():
    backend = Recorder()
    packing = Packing(backend, 3)
    candidates = plan(0, 5)
    jobs = [make_job(c, t) for c in candidates for t in ("base", "mixup")]  # two settings, five each
    futures = [packing.submit(standin_job, job) for job in jobs]
    assert backend.sizes == [3, 3]  # a full pack of each setting went at once
    assert not any(f.done() for f in futures[8:])
    packing.flush()
    assert sorted(backend.sizes) == [2, 2, 3, 3]
    assert [f.result() for f in futures] == [standin_job(job) for job in jobs]


def test_a_pack_hands_each_job_its_own_error():
    calls = []

    def picky(job):
        calls.append(job)
        if job == "bad":
            raise ValueError("bad job")
        return job.upper()

    packing = Packing(executors.InProcess(), 3)
    futures = [packing.submit(picky, job) for job in ("ok", "bad", "fine")]
    assert futures[0].result() == "OK" and futures[2].result() == "FINE"
    assert isinstance(futures[1].exception(), ValueError)


def test_a_cancelled_pack_cancels_its_jobs():
    class Cancelling(Executor):
        concurrency = 1

        def submit(self, fn, job):
            future = Future()
            future.cancel()
            return future

    packing = Packing(Cancelling(), 2)
    futures = [packing.submit(standin_job, make_job(c, "base")) for c in plan(3, 2)]
    assert all(f.done() for f in futures)
    assert all(isinstance(f.exception(), ExecutorError) for f in futures)


class Threads(Executor):
    """A thread-pool backend: packs finish in other threads, as with worker processes."""

    def __init__(self, workers):
        self.concurrency, self.pool = workers, ThreadPoolExecutor(workers)

    def submit(self, fn, job):
        return self.pool.submit(fn, job)

    def close(self):
        self.pool.shutdown()


def slow_pack(jobs):
    time.sleep(0.02)
    return _standin_pack(jobs)


slow_standin = Trainer(standin_job, slow_pack)


class SlowHandOut(Packing):
    """Packing whose jobs' futures take a while to be handed out (a callback on each)."""

    def submit(self, fn, job):
        future = super().submit(fn, job)
        future.add_done_callback(lambda done: time.sleep(0.01))
        return future


def test_packs_stay_whole_when_they_finish_in_other_threads(tmp_path):
    """The driver collects a finished pack's results all at once, so the next pack is full too."""
    PACKS.clear()
    with Store(tmp_path / "s", create=True) as store:
        run_id = store.create_run("random", "r", {}, 0)
        executor = SlowHandOut(Threads(2), 3)
        random_search(store, run_id, plan(4, 24), ["base"], make_job, executor, slow_standin)
        executor.close()
        assert len(store.evaluations(run_id)) == 24
    assert PACKS == [3] * 8


def test_a_cancelled_job_is_not_sent():
    backend = Recorder()
    packing = Packing(backend, 4)
    futures = [packing.submit(standin_job, make_job(c, "base")) for c in plan(1, 2)]
    futures[0].cancel()
    packing.flush()
    assert backend.sizes == [1] and futures[1].result() is not None


def _evolve(tmp_path, name, executor, config):
    with Store(tmp_path / name, create=True) as store:
        run_id = store.create_run("evolve", name, {}, 0)
        with executors.running(executor) as executor:
            evolve(store, run_id, config, "base", 0, make_job, executor, packed_standin)
        return [(e.stage, e.iteration, e.key, e.fitness, e.status) for e in store.evaluations(run_id)]


@pytest.mark.parametrize("spec", [ExecutorSpec("packed", 4), ExecutorSpec("packed", 4, 2), ExecutorSpec("local", 2)])
def test_evolution_gives_the_same_losses_on_any_executor(tmp_path, spec):
    """Stand-in fitness: executors change when results arrive, not which random losses are
    evaluated; the children bred then depend on that order, but none is lost or repeated."""
    config = EvolutionConfig(initial=8, population=4, tournament=2, iterations=6)
    sequential = _evolve(tmp_path, "sequential", 1, config)
    other = _evolve(tmp_path, "other", spec, config)
    random_phase = lambda rows: sorted(r[2:] for r in rows if r[0] == "random")  # noqa: E731
    assert random_phase(other) == random_phase(sequential) and len(random_phase(other)) == 8
    children = [r[:2] for r in other if r[0] != "random"]
    assert sorted(set(children)) == [("evolve", i) for i in range(6)]


def test_the_packed_executor_trains_through_the_pack_function(tmp_path):
    PACKS.clear()
    with Store(tmp_path / "s", create=True) as store, executors.running(ExecutorSpec("packed", 3)) as executor:
        run_id = store.create_run("random", "r", {}, 0)
        random_search(store, run_id, plan(2, 7), ["base"], make_job, executor, packed_standin)
        assert len(store.evaluations(run_id)) == 7
    assert PACKS == [3, 3, 1]


@pytest.mark.parametrize("options, message", [
    ({"kind": "gpu"}, "unknown executor"),
    ({"kind": "local", "concurrency": 0}, "at least 1"),
    ({"kind": "local", "ray_address": "auto"}, "need --executor ray"),
    ({"kind": "packed", "gpus_per_eval": 0.5}, "need --executor ray"),
    ({"kind": "local", "concurrency": 4, "pack_size": 2}, "needs --executor packed or ray"),
    ({"kind": "packed", "concurrency": 4, "pack_size": 0}, "at least 1"),
    ({"kind": "ray", "gpus_per_eval": 2.0}, "between 0 and 1"),
])
def test_bad_executor_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        ExecutorSpec(**options)


def test_gpus_per_eval_defaults_to_one_gpu_where_there_are_gpus():
    assert _gpus_per_eval(None, 8) == 1.0 and _gpus_per_eval(None, 0) == 0.0 and _gpus_per_eval(0.25, 1) == 0.25
    with pytest.raises(ConfigError, match="no GPUs"):
        _gpus_per_eval(0.5, 0)
    with pytest.raises(ConfigError, match="has GPUs"):
        _gpus_per_eval(0.0, 2)


@pytest.mark.parametrize("raises_at_submit", [False, True])
def test_a_dead_worker_pool_stops_the_search_with_an_executor_error(raises_at_submit):
    from concurrent.futures.process import BrokenProcessPool

    def propose_once(queue=iter([Pending("job", None, None)])):
        return next(queue, None)

    class Broken(Executor):
        concurrency = 1

        def submit(self, fn, job):
            if raises_at_submit:
                raise BrokenProcessPool("the pool is broken")
            future = Future()
            future.set_exception(BrokenProcessPool("a worker was killed"))
            return future

    with pytest.raises(ExecutorError, match="worker process died"):
        drive(Broken(), standin_job, propose_once, lambda pending, evaluation: None)


def test_evolve_and_correlate_take_the_executor_options(tmp_path):
    from click.testing import CliRunner

    from symloss_cli.main import main

    tiny = ["--initial", "3", "--population", "2", "--tournament", "2", "--iterations", "2", "--steps", "10"]
    result = CliRunner().invoke(main, ["evolve", "--run-dir", str(tmp_path / "run"), *tiny,
                                       "--executor", "packed", "--concurrency", "3"])
    assert result.exit_code == 0, result.output
    with Store(tmp_path / "run") as store:
        assert len(store.evaluations(None)) == 3 + 2 + 1
    result = CliRunner().invoke(main, ["correlate", "--run-dir", str(tmp_path / "study"), "--n", "2", "--techniques",
                                       "base,mixup", "--steps", "30", "--executor", "packed", "--concurrency", "2"])
    assert result.exit_code == 0, result.output
    with Store(tmp_path / "study") as store:  # the table's tau is scipy's on the stored accuracies
        fitness = {(e.technique, e.key): e.fitness for e in store.evaluations(None)}
    keys = sorted({key for _, key in fitness})
    assert len(fitness) == 4 and len(keys) == 2
    tau = kendalltau([fitness["base", k] for k in keys], [fitness["mixup", k] for k in keys]).statistic
    shown = "--" if math.isnan(tau) else f"{tau:.3f}"  # 1.000 observed (30 steps; 10 steps tie: "--")
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["Pair", "All", "Best", "50"] and rows[2:] == [["base-mixup", shown, shown]]


def test_executor_option_errors_are_one_line(tmp_path):
    from click.testing import CliRunner

    from symloss_cli.main import main

    result = CliRunner().invoke(main, ["evolve", "--run-dir", str(tmp_path / "run"), "--gpus-per-eval", "0.5"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: --ray-address and --gpus-per-eval need --executor ray"]
    assert not (tmp_path / "run").exists()  # refused before the run was created


def test_auto_executor_picks_packs_per_core_on_a_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(executors.os, "cpu_count", lambda: 2)
    assert ExecutorSpec("auto").resolved() == ExecutorSpec("packed", 4, 2)
    monkeypatch.setattr(executors.os, "cpu_count", lambda: 64)
    assert ExecutorSpec("auto").resolved() == ExecutorSpec("packed", 2 * executors.AUTO_MAX_WORKERS, 2)
    # what the user gives is kept: a pack size means packed, a concurrency alone local worker processes
    assert ExecutorSpec("auto", 3, 3).resolved() == ExecutorSpec("packed", 3, 3)
    assert ExecutorSpec("auto", 3).resolved() == ExecutorSpec("local", 3)
    assert ExecutorSpec("local").resolved() == ExecutorSpec("local")
    assert executors.machine_precision() == "fp32"  # whatever the processor's instructions
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert executors.machine_precision() == "bf16"


def test_the_default_evolve_records_the_machines_precision(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from symloss_cli.main import main

    monkeypatch.setattr(executors, "machine_precision", lambda: "fp32")
    tiny = ["--initial", "2", "--population", "1", "--tournament", "1", "--iterations", "0", "--steps", "5"]
    result = CliRunner().invoke(main, ["evolve", "--run-dir", str(tmp_path / "run"), *tiny])
    assert result.exit_code == 0, result.output
    assert "executor: packed" in result.stderr and "precision: fp32" in result.stderr
    with Store(tmp_path / "run") as store:
        assert store.run("evolve")["config"]["train_overrides"] == {"steps": 5, "precision": "fp32"}
        assert {e.setting.split("|")[-1] for e in store.evaluations(None)} == {"precision=fp32,steps=5"}
    result = CliRunner().invoke(main, ["evolve", "--run-dir", str(tmp_path / "other"), *tiny, "--precision", "bf16"])
    assert result.exit_code == 0, result.output
    with Store(tmp_path / "other") as store:
        assert store.run("evolve")["config"]["train_overrides"]["precision"] == "bf16"
