"""The Ray executor on a local two-CPU cluster: errors, retries after a killed worker, evolve end to end."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from standin import packed_standin

from symloss import ConfigError, ExecutorError, executors
from symloss.executors import ExecutorSpec
from symloss.search import EvolutionConfig, evolve
from symloss.search.jobs import Job
from symloss.store import Store

ray = pytest.importorskip("ray")

SCRIPT = Path(sys.executable).parent / "symloss"
TINY = ["--initial", "4", "--population", "3", "--tournament", "2", "--iterations", "4", "--steps", "40"]


def ray_task_processes() -> list[int]:
    """Ray workers busy with a symloss task (Ray titles them after the task function)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::_run_task"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds Ray workers through /proc")
def test_evolve_on_ray_survives_a_killed_worker(tmp_path):
    run_dir = tmp_path / "ray-run"
    process = subprocess.Popen([str(SCRIPT), "evolve", "--run-dir", str(run_dir), "--executor", "ray",
                                "--concurrency", "2", *TINY], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    killed, deadline = None, time.monotonic() + 300
    while killed is None and process.poll() is None and time.monotonic() < deadline:
        busy = ray_task_processes()
        time.sleep(0.3)  # into its training
        still_busy = [pid for pid in busy if pid in ray_task_processes()]
        if still_busy:
            os.kill(still_busy[0], signal.SIGKILL)
            killed = still_busy[0]
        time.sleep(0.1)
    stdout, stderr = process.communicate(timeout=600)
    assert killed is not None, "no Ray task was seen running"
    assert process.returncode == 0, stderr
    assert "CE baseline" in stdout
    connection = sqlite3.connect(run_dir / "store.sqlite")
    rows = connection.execute("SELECT stage, iteration, status FROM evaluations").fetchall()
    connection.close()
    assert len(rows) == 4 + 4 + 1  # random phase, children, baseline: none lost
    assert len({(stage, iteration) for stage, iteration, _ in rows}) == len(rows)  # none repeated
    assert all(status != "failed" for *_, status in rows)


@pytest.fixture(scope="module")
def cluster():
    tests = str(Path(__file__).parent)  # the workers import this module's task functions
    ray.init(num_cpus=2, include_dashboard=False, logging_level="error", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}})
    yield
    ray.shutdown()


def raises_config_error(job):
    raise ConfigError(f"no such preset {job!r}")


def dies_on_first_try(marker):
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)  # the worker process dies mid-task
    return "done"


def always_dies(job):
    os._exit(1)


def test_a_task_lost_on_every_retry_is_an_executor_error(cluster):
    error = ExecutorSpec("ray", 1).make().submit(always_dies, "x").exception(timeout=600)
    assert isinstance(error, ExecutorError) and "lost an evaluation" in str(error)


def test_gpus_asked_of_a_cluster_without_gpus_is_one_line_before_any_run(cluster, tmp_path):
    from click.testing import CliRunner

    from symloss_cli.main import main

    result = CliRunner().invoke(main, ["evolve", "--run-dir", str(tmp_path / "run"), "--executor", "ray",
                                       "--gpus-per-eval", "0.5"])
    assert result.exit_code == 2
    ours = [line for line in result.output.splitlines() if "(raylet)" not in line]  # Ray's own, late, log lines
    assert ours == ["error: --gpus-per-eval 0.5: the Ray cluster has no GPUs"]
    assert not (tmp_path / "run").exists()


def test_a_task_error_reaches_the_driver_as_itself(cluster):
    executor = ExecutorSpec("ray", 2).make()
    error = executor.submit(raises_config_error, "x").exception(timeout=600)
    assert type(error) is ConfigError and str(error) == "no such preset 'x'"


def test_a_task_whose_worker_dies_is_retried(cluster, tmp_path):
    executor = ExecutorSpec("ray", 2).make()
    assert executor.submit(dies_on_first_try, str(tmp_path / "marker")).result(timeout=600) == "done"


@pytest.mark.parametrize("spec", [ExecutorSpec("ray", 2), ExecutorSpec("ray", 4, pack_size=2)])
def test_evolution_on_ray_evaluates_what_it_does_in_process(cluster, tmp_path, spec):
    config = EvolutionConfig(initial=6, population=3, tournament=2, iterations=0)

    def make_job(candidate, technique):
        return Job(candidate.genome.to_dict(), technique, "demo", 0)

    results = {}
    for name, executor in (("sequential", executors.InProcess()), ("ray", spec.make())):
        with Store(tmp_path / name, create=True) as store:
            run_id = store.create_run("evolve", name, {}, 0)
            evolve(store, run_id, config, "base", 0, make_job, executor, packed_standin)
            results[name] = sorted((e.key, e.fitness) for e in store.evaluations(run_id))
    assert results["ray"] == results["sequential"]
