"""Campaigns: the study, an evolution and an elimination per technique and the final evaluation
as the runs of one store. Training itself is not under test here: a deterministic stand-in
scores each job from its genome and setting (one job in seven diverges)."""
import dataclasses
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from statistics import fmean

import pytest
from click.testing import CliRunner
from scipy.stats import kendalltau

from symloss import campaign, executors, references, train
from symloss.errors import ConfigError, DeviceError
from symloss.search import evolution, runs
from symloss.search.jobs import Job, train_job
from symloss.store import Store, StoreError
from symloss.study.correlation import STUDY_RUN, correlate
from symloss.train import Evaluation
from symloss_cli import names
from symloss_cli.main import main
from test_cli_imports import imported_by

TECHNIQUES = ["base", "cutout", "mixup", "randaug", "all"]
TINY = campaign.CampaignPreset("tiny", "demo", study_losses=6, top_k=3, population=3, tournament=2, iterations=2,
                               elimination="demo", evaluate=("demo",))
TESTS = Path(__file__).parent


def score(text: str) -> Evaluation:
    """The stand-in's result for a loss trained in a setting (both in `text`)."""
    digest = hashlib.sha256(text.encode()).digest()
    if digest[0] % 7 == 0:
        return Evaluation(0.0, "diverged", "non-finite loss (stand-in)", 3, 0.0)
    return Evaluation(int.from_bytes(digest[1:5], "big") / 2**32, "ok", None, 10, 0.0)


def fake(job: Job) -> Evaluation:
    return score(json.dumps(job.genome, sort_keys=True) + job.setting)


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, job: Job) -> Evaluation:
        self.calls += 1
        return fake(job)


def fake_pack(losses, preset, technique, seed, data_root=None, **overrides):
    """train.evaluate_pack's stand-in, a little slow (the trainer's own path up to it runs)."""
    time.sleep(0.002 * len(losses))
    return [score(f"{loss.key}|{preset}|{technique}|{seed}|{sorted(overrides.items())}") for loss in losses]


def tiny_demo(monkeypatch) -> None:
    """The command line's demo preset made TINY, its trainer the stand-in (in this process)."""
    monkeypatch.setitem(campaign.CAMPAIGN_PRESETS, "demo", dataclasses.replace(TINY, name="demo"))
    monkeypatch.setattr(train, "evaluate_pack", fake_pack)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def rows(directory, run_name=None):
    """(run, stage, setting, key, fitness, iteration, trained) of each evaluation, from SQLite."""
    connection = sqlite3.connect(Path(directory) / "store.sqlite")
    query = ("SELECT r.name, e.stage, e.setting, e.key, e.fitness, e.iteration, e.reused_from IS NULL "
             "FROM evaluations e JOIN runs r ON r.id = e.run_id" + (" WHERE r.name = ?" if run_name else ""))
    found = connection.execute(query + " ORDER BY e.id", (run_name,) if run_name else ()).fetchall()
    connection.close()
    return found


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A whole TINY campaign, run with the stand-in."""
    directory = tmp_path_factory.mktemp("campaign") / "c"
    campaign.run_campaign(directory, TINY, executors.InProcess(), fn=fake)
    return directory


# ---- (a) the evolution's first population: the study's best, not trained again -----------------
def test_an_evolution_starts_from_the_studys_best_in_its_setting_and_trains_none_of_them(tmp_path):
    with Store(tmp_path, create=True) as store:
        study = store.create_run("correlate", STUDY_RUN, {}, 7)
        trained_as = lambda steps: lambda c, t: Job.of(c, t, "demo", 0, overrides=steps)  # noqa: E731
        # losses drawn from seed 7 (not the evolution's stream), trained with seed 0 as the evolution trains,
        # and the same losses again in another setting
        correlate(store, study, 8, ["base", "mixup"], 7, trained_as(()), executors.InProcess(), fake, 3)
        correlate(store, study, 8, ["mixup"], 7, trained_as((("steps", 9),)), executors.InProcess(), fake, 3)
        spec = runs.EvolveSpec(technique="mixup", initial=8, population=3, tournament=2, iterations=3,
                               initial_from=STUDY_RUN)
        run_id = runs.evolution_run(store, spec, "evolve-mixup")
        calls = Counting()
        runs.run_evolution(store, run_id, spec, executors.InProcess(), fn=calls)
        population = [m.evaluation.key for m in evolution.initial_population(store, run_id, spec.config())]
        first_step = store.iterations(run_id)[0]
    evolve_rows = rows(tmp_path, "evolve-mixup")
    study_rows = {(key, setting): (fitness, iteration) for _, _, setting, key, fitness, iteration, _
                  in rows(tmp_path, STUDY_RUN)}
    connection = sqlite3.connect(tmp_path / "store.sqlite")
    reused = connection.execute(
        "SELECT e.key, e.steps, e.fitness, s.key, s.setting, s.fitness, r.name FROM evaluations e "
        "JOIN evaluations s ON s.id = e.reused_from JOIN runs r ON r.id = s.run_id "
        "JOIN runs er ON er.id = e.run_id WHERE er.name = 'evolve-mixup' AND e.stage = 'random'").fetchall()
    connection.close()
    setting = "demo|mixup|seed=0|"
    assert len(reused) == 8 == len([r for r in evolve_rows if r[1] == "random"])
    assert all(steps == 0 and key == source_key and source_setting == setting and fitness == source_fitness
               and run == STUDY_RUN for key, steps, fitness, source_key, source_setting, source_fitness, run in reused)
    assert calls.calls == sum(trained for *_, trained in evolve_rows)  # the children and the CE baseline only
    in_setting = sorted(((key, f, i) for (key, s), (f, i) in study_rows.items() if s == setting),
                        key=lambda r: (-r[1], r[2]))
    best = [key for key, _, _ in in_setting[:3]]
    assert population == best
    child = [r[3] for r in evolve_rows if r[1] == "evolve" and r[5] == 0][-1]
    with Store(tmp_path) as store:
        first = [store.evaluation(e).key for e, _ in first_step["population"]]
    assert len(set(first) - {child}) >= 2 and set(first) - {child} <= set(best)


def test_a_campaigns_evolutions_reuse_the_study_rows(finished):
    study = {(key, setting): fitness for _, _, setting, key, fitness, _, _ in rows(finished, STUDY_RUN)}
    for technique in TECHNIQUES:
        random_rows = [r for r in rows(finished, f"evolve-{technique}") if r[1] == "random"]
        assert len(random_rows) == TINY.study_losses and not any(trained for *_, trained in random_rows)
        assert all(study[key, setting] == fitness for _, _, setting, key, fitness, _, _ in random_rows)


# ---- (b) Section 4.1's tau, (c) the finalists ----------------------------------------------------
def test_each_elimination_tau_is_scipys_on_the_stored_stage_1_and_stage_2(finished):
    with Store.open_read_only(finished) as store:
        taus = campaign.elimination_taus(store)
    assert list(taus) == TECHNIQUES
    for technique in TECHNIQUES:
        fitness = {stage: {key: f for _, s, _, key, f, _, _ in rows(finished, f"eliminate-{technique}") if s == stage}
                   for stage in ("long", "large-1")}
        keys = sorted(fitness["large-1"])
        assert len(keys) == 6 and set(keys) <= set(fitness["long"])
        expected = kendalltau([fitness["long"][k] for k in keys], [fitness["large-1"][k] for k in keys]).statistic
        assert taus[technique] == (pytest.approx(expected), 6)
    assert len({round(tau, 6) for tau, _ in taus.values()}) > 1


def test_finalists_are_the_eliminations_top_3_by_the_last_stage_mean(finished):
    with Store.open_read_only(finished) as store:
        found = {t: campaign.finalists(store, t) for t in TECHNIQUES}
    for technique in TECHNIQUES:
        eliminated = rows(finished, f"eliminate-{technique}")
        last = {key for _, stage, _, key, *_ in eliminated if stage == "large-3"}
        runs_of = {key: [f for _, stage, _, k, f, _, _ in eliminated if k == key and stage.startswith("large")]
                   for key in last}
        expected = sorted(runs_of, key=lambda key: -fmean(runs_of[key]))[:3]
        assert [f.key for f in found[technique]] == expected
        assert [f.fitness for f in found[technique]] == [pytest.approx(fmean(runs_of[k])) for k in expected]
        assert all(f.runs == 3 for f in found[technique])


# ---- (d) killed three times at random moments, then resumed: the same evaluations ----------------
RUN_CLI = """
import sys
sys.path.insert(0, sys.argv[1])
import pytest
from test_campaign import tiny_demo
from symloss_cli.main import main
with pytest.MonkeyPatch.context() as patch:
    tiny_demo(patch)
    main(sys.argv[2:], prog_name="symloss")
"""


def cli_process(*args) -> subprocess.Popen:
    """`symloss ARGS` in a new process whose demo campaign preset is TINY, trained by the stand-in."""
    return subprocess.Popen([sys.executable, "-c", RUN_CLI, str(TESTS), *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def committed(directory) -> int:
    try:
        return len(rows(directory)) if (Path(directory) / "store.sqlite").exists() else 0
    except sqlite3.OperationalError:
        return 0


def test_sigkill_at_three_random_moments_then_resume_ends_as_an_uninterrupted_campaign(tmp_path):
    straight = tmp_path / "straight"
    done = cli_process("campaign", "--dir", straight, "--executor", "local")
    assert done.wait(timeout=300) == 0, done.stderr.read()
    total = len(rows(straight))
    killed, rng = tmp_path / "killed", random.Random(0)
    command = ["campaign", "--dir", killed, "--executor", "local"]
    after_kills = []
    for target in sorted(rng.sample(range(1, total * 85 // 100), 3)):  # a kill well before the end lands mid-run
        process = cli_process(*command)
        deadline = time.monotonic() + 300
        while process.poll() is None and committed(killed) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.1))  # a random moment in the next evaluations
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        after_kills.append(len(rows(killed)))
        command = ["campaign", "--resume", killed, "--executor", "local"]
    assert all(0 < count < total for count in after_kills), after_kills  # each kill landed mid-campaign
    resumed = cli_process(*command)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert sorted(rows(killed)) == sorted(rows(straight))  # none lost, none repeated, the same results


# ---- (e) bad input: one line, exit 2 ------------------------------------------------------------
@pytest.fixture
def fresh(tmp_path):
    """A demo campaign directory in which nothing has run yet."""
    with campaign.open_campaign(tmp_path / "fresh", "demo", create=True):
        pass
    return tmp_path / "fresh"


def refuse_training(*args, **kwargs):
    raise DeviceError("bad input must not train anything")


def plain_run(tmp_path):
    directory = tmp_path / "plain"
    with Store(directory, create=True) as store:
        store.create_run("evolve", runs.EVOLVE_RUN, {}, 0)
    return directory


@pytest.mark.parametrize("args, culprit", [
    (["campaign", "--preset", "paper", "--dir", "{fresh}"], "is a campaign of preset 'demo', not 'paper'"),
    (["campaign", "--resume", "{fresh}", "--preset", "paper"], "is a campaign of preset 'demo', not 'paper'"),
    (["campaign", "--resume", "{fresh}", "--steps", "5"], "cannot change them"),
    (["campaign", "--resume", "{missing}"], "not a symloss run directory"),
    (["campaign", "--dir", "{plain}"], "holds runs but no campaign"),
    (["campaign", "--preset", "huge"], "huge"),
    (["campaign", "--dir", "{fresh}", "--resume", "{fresh}"], "--dir or --resume"),
    (["evolve", "--campaign", "{fresh}", "--technique", "mixup"], "correlate has not finished"),
    (["evolve", "--campaign", "{fresh}", "--technique", "autoaugment"], "autoaugment"),
    (["evolve", "--campaign", "{fresh}"], "--campaign needs --technique"),
    (["evolve", "--campaign", "{plain}", "--technique", "base"], "not a campaign directory"),
    (["eliminate", "{fresh}", "--technique", "mixup"], "evolve-mixup has not finished"),
    (["eliminate", "{fresh}", "--technique", "autoaugment"], "autoaugment"),
    (["evaluate", "{fresh}"], "the elimination of base, cutout, mixup, randaug, all has not finished"),
    (["evaluate", "{fresh}", "--preset", "nope"], "nope"),
    (["evaluate", "{finished}", "--label-smoothing", "1.5"], "1.5"),
    (["evaluate", "{finished}", "--label-smoothing", "0.2"], "smooths labels by 0.1, not 0.2"),
    (["evaluate", "{finished}", "--preset", "paper-effnet"], "give a weights file"),
    (["correlate", "--campaign", "{fresh}", "--n", "5"], "--n cannot change it"),
    (["correlate", "--campaign-preset", "paper"], "--campaign-preset needs --campaign"),
    (["table", "results", "{fresh}"], "holds no final evaluation"),
    (["show", "{finished}:finalist[autoaugment,0]"], "unknown augmentation technique"),
    (["show", "{finished}:finalist[mixup,3]"], "no finalist 3"),
])
def test_bad_input_is_one_line_and_exit_2(args, culprit, fresh, finished, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(executors, "for_machine", lambda: executors.ExecutorSpec("local"))  # all in this process
    monkeypatch.setattr(train, "evaluate_pack", refuse_training)
    places = {"fresh": fresh, "finished": finished, "missing": tmp_path / "missing", "plain": plain_run(tmp_path)}
    result = invoke(*[arg.format(**places) for arg in args])
    assert result.exit_code == 2 and culprit in result.stderr, result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error")]) == 1
    assert "Traceback" not in result.stderr


def test_a_directory_is_continued_only_with_its_preset_and_options(fresh):
    with pytest.raises(ConfigError, match="not 'paper'"):
        with campaign.open_campaign(fresh, "paper"):
            pass
    with campaign.open_campaign(fresh, "demo", overrides={}) as opened:
        assert opened.preset == campaign.CAMPAIGN_PRESETS["demo"] and opened.overrides == {}
    with pytest.raises(ConfigError, match="cannot change"):
        with campaign.open_campaign(fresh, overrides={"steps": 3}):
            pass
    with pytest.raises(StoreError, match="not a campaign directory"):
        with Store(fresh.parent / "bare", create=True) as store:
            campaign.load(store)


# ---- (f) DIR:finalist[T,N] --------------------------------------------------------------------------
def test_finalist_references_resolve_to_the_campaigns_finalists(finished):
    with Store.open_read_only(finished) as store:
        expected = {t: [f.key for f in campaign.finalists(store, t)] for t in TECHNIQUES}
    for technique in TECHNIQUES:
        for rank in range(3):
            loss = references.resolve(f"{finished}:finalist[{technique},{rank}]")
            assert loss.key == expected[technique][rank] and loss.name == f"c:finalist[{technique},{rank}]"
    assert references.resolve(f" {finished}:finalist[ all , 0 ] ").key == expected["all"][0]
    with pytest.raises(StoreError, match="not a symloss run directory"):
        references.resolve(f"{finished}-missing:finalist[all,0]")
    result = invoke("show", f"{finished}:finalist[mixup,1]")
    assert result.exit_code == 0 and expected["mixup"][1] in result.stdout


# ---- the final evaluation and where a campaign stands ---------------------------------------------
def test_the_final_evaluation_trains_every_row_under_every_technique_and_seed(finished):
    with Store.open_read_only(finished) as store:
        found = campaign.entries(store)
        results = campaign.final_results(store)
        finalists = {t: campaign.finalists(store, t) for t in TECHNIQUES}
        stages = campaign.status(store)
    best = max(((f"{t[0].upper()}{rank}", f) for t in TECHNIQUES for rank, f in enumerate(finalists[t])),
               key=lambda pair: pair[1].fitness)
    labels = ["CE", "CE+LS"] + [f"{t[0].upper()}{r}" for t in TECHNIQUES for r in range(3)] + [f"{best[0]}+LS"]
    assert list(results) == labels and found["best"].label == best[0]
    evaluated = [r for r in rows(finished, "evaluate")]
    for label in labels:
        entry = found["best+LS"] if label.endswith("+LS") and label != "CE+LS" else found[label]
        stage = "final-digits+ls" if label.endswith("+LS") else "final-digits"
        for technique in TECHNIQUES:
            stored = [r for r in evaluated if (r[1], r[3]) == (stage, entry.key) and f"|{technique}|" in r[2]]
            assert len(stored) == 3 and results[label][f"digits {technique}"] == [r[4] for r in stored]
            assert all(("label_smoothing=0.1" in r[2]) == label.endswith("+LS") and "steps=100" in r[2] for r in stored)
    assert all(stage.state == "done" and stage.done == stage.total for stage in stages if stage.run != "evaluate"
               and not stage.run.startswith("eliminate-"))
    assert stages[-1].done == stages[-1].total == len(evaluated)


def test_final_evaluation_jobs_train_with_the_real_trainer(finished):
    """The jobs the final evaluation hands out (label smoothing and all) run in the real trainer."""
    with campaign.open_campaign(finished) as opened:
        plan = campaign.evaluation_plan(opened, campaign.evaluate_preset("demo"), 1, 0.1)
    for stage in ("final-digits", "final-digits+ls"):
        _, job = plan[stage][0]
        short = Job(job.genome, job.technique, job.preset, job.seed, job.data_root,
                    tuple((k, 3 if k == "steps" else v) for k, v in job.overrides), job.expression)
        assert train_job(short).steps == 3


def test_the_campaign_cli_runs_each_stage_and_reads_back_the_tables(tmp_path, monkeypatch):
    tiny_demo(monkeypatch)
    directory = tmp_path / "c"
    local = ["--executor", "local"]
    result = invoke("correlate", "--campaign", directory, *local)
    assert result.exit_code == 0 and result.stdout.startswith("Pair")
    result = invoke("evolve", "--campaign", directory, "--technique", "cutout", *local)
    assert result.exit_code == 0 and "top 5 of cutout" in result.stdout and "CE baseline" in result.stdout
    result = invoke("eliminate", directory, "--technique", "cutout", *local)
    assert result.exit_code == 0 and result.stdout.count("mean fitness") == 3 and "Kendall tau" in result.stdout
    result = invoke("campaign", "--resume", directory, *local)
    assert result.exit_code == 0, result.output
    assert "executor: local, 1 in flight; precision: fp32\n" in result.stderr  # stored when made (a CPU)
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:12]] == [[name, "done"] for name in campaign.stage_names()]
    result = invoke("table", "results", directory, "--format", "markdown")
    assert result.exit_code == 0 and result.stdout.startswith("**Table 5**") and "Table 6" not in result.stdout and result.stdout.count("**") >= 2 + 2 * 5
    result = invoke("evaluate", directory, *local)  # done already: nothing more to train
    assert result.exit_code == 0 and result.stdout.startswith("Table 5:") and "Table 6" not in result.stdout


def test_the_cli_lists_are_the_librarys_and_help_stays_light():
    assert names.CAMPAIGN_PRESETS == tuple(campaign.CAMPAIGN_PRESETS)
    assert names.EVALUATE_PRESETS == tuple(campaign.EVALUATE_PRESETS)
    for args in (["campaign", "--help"], ["evaluate", "--help"], ["campaign", "--preset", "nope"]):
        result = imported_by(args)
        assert result["exit_code"] in (0, 2) and result["modules"] == []
