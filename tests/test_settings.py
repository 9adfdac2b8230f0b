"""The values the paper leaves unstated: preset fields, training options, part of a job's setting."""
import json
import math

import pytest
import torch
from click.testing import CliRunner

from standin import Counting
from symloss import ConfigError, Loss, executors, presets, train, zoo
from symloss.search import Candidate, SearchContext, plan, runs, train_candidates
from symloss.search.jobs import Job, train_one
from symloss.store import Store
from symloss_cli.main import main

UNSTATED = {"pad": 4, "cutout_size": 16, "mixup_alpha": 1.0, "randaug_n": 2, "randaug_m": 9, "label_smoothing": 0.0}
OPTIONS = ["--pad", "--cutout-size", "--mixup-alpha", "--randaug-n", "--randaug-m", "--label-smoothing"]


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_has_symloss_defaults_for_the_unstated_values(name):
    preset = presets.get(name)
    assert {field: getattr(preset, field) for field in UNSTATED} == UNSTATED


def test_the_paper_surrogate_checks_from_the_end_of_its_7th_epoch():
    for name in ("paper-surrogate", "paper-surrogate-long"):
        preset = presets.get(name)
        assert (preset.eval_every, preset.early_stop_step, preset.early_stop_accuracy) == (500, 3_500, 0.35)


@pytest.mark.parametrize("field, value", [
    ("pad", -1), ("pad", 33), ("pad", 2.0), ("cutout_size", 0), ("cutout_size", 33), ("cutout_size", True),
    ("mixup_alpha", 0.0), ("mixup_alpha", -1.0), ("mixup_alpha", math.inf), ("mixup_alpha", "1"),
    ("randaug_n", -1), ("randaug_m", -1), ("randaug_m", 31), ("randaug_m", 99),
    ("label_smoothing", -0.1), ("label_smoothing", 1.0), ("label_smoothing", math.nan),
])
def test_a_bad_value_is_a_one_line_config_error(field, value):
    with pytest.raises(ConfigError, match=f"^{field} must be [^\n]+$"):
        presets.with_overrides(presets.get("demo"), **{field: value})
    with pytest.raises(ConfigError, match=field):
        presets.check_overrides({field: value})


@pytest.mark.parametrize("field, value", [("pad", 0), ("cutout_size", 32), ("mixup_alpha", 0.2), ("randaug_n", 0),
                                          ("randaug_m", 30), ("label_smoothing", 0.1)])
def test_a_good_value_replaces_the_default(field, value):
    assert getattr(presets.with_overrides(presets.get("demo"), **{field: value}), field) == value


# ---- settings: an override is part of the setting; results are reused only within one ------------
def test_a_changed_augmentation_parameter_is_a_new_setting_never_reused_for_the_old(tmp_path):
    candidates = plan(5, 3)
    default, changed = runs.EvolveSpec(), runs.EvolveSpec(train_overrides={"cutout_size": 8})
    assert changed.job(candidates[0], "cutout").setting == "demo|cutout|seed=0|cutout_size=8"
    assert default.job(candidates[0], "cutout").setting == "demo|cutout|seed=0|"
    calls = Counting()
    with Store(tmp_path / "store", create=True) as store:
        def train_with(spec: runs.EvolveSpec, name: str) -> list:
            run_id = store.create_run("random", name, {}, 0)
            train_candidates(SearchContext(store, run_id, spec.job, executors.InProcess(), calls),
                             candidates, ["cutout"])
            return store.evaluations(run_id)

        first = train_with(default, "first")
        other = train_with(changed, "other")  # another value: trained again, nothing reused
        assert calls.calls == 6 and all(row.reused_from is None for row in other)
        assert [row.fitness for row in other] != [row.fitness for row in first]  # the stand-in reads the setting
        again = train_with(default, "again")  # the old value again: the first results, never the other value's
        assert calls.calls == 6
        assert [row.reused_from for row in again] == [row.id for row in first]
        assert [row.fitness for row in again] == [row.fitness for row in first]
        for candidate, row in zip(candidates, other):
            assert store.find_training(changed.job(candidate, "cutout").setting, candidate.key).id == row.id


def test_a_job_trains_with_its_overrides():
    """Jobs differing only in an augmentation parameter train differently (the parameter reaches the
    trainer); with the same overrides, as evaluate does."""
    candidate = Candidate(zoo.ce_genome())
    short = {"steps": 3, "eval_every": 3}
    spec = runs.EvolveSpec(train_overrides=short | {"cutout_size": 4})
    changed = train_one(spec.job(candidate, "cutout"))
    default = train_one(runs.EvolveSpec(train_overrides=short).job(candidate, "cutout"))
    direct = train.evaluate(candidate.loss, "demo", "cutout", seed=0, cutout_size=4, **short)
    assert changed.history == direct.history != default.history


@pytest.mark.parametrize("technique, field, value", [("base", "pad", 1), ("cutout", "cutout_size", 4),
                                                      ("mixup", "mixup_alpha", 0.2), ("randaug", "randaug_n", 1),
                                                      ("randaug", "randaug_m", 20)])
def test_each_augmentation_parameter_reaches_the_training(technique, field, value):
    options = dict(seed=0, steps=3, eval_every=3)
    assert (train.evaluate("native_ce", "demo", technique, **options, **{field: value}).history
            != train.evaluate("native_ce", "demo", technique, **options).history)


# ---- label smoothing ---------------------------------------------------------------------------------
def logits_and_labels():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(16, 10, generator=generator), torch.randint(0, 10, (16,), generator=generator)


def test_label_smoothing_goes_to_the_criterion():
    logits, labels = logits_and_labels()
    expected = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    for loss in ("native_ce", zoo.ce_genome(), Loss.from_genome(zoo.ce_genome())):
        criterion = train.criterion_for(loss, 0.1)
        torch.testing.assert_close(criterion(logits, labels), expected, rtol=1e-5, atol=0)
        soft = torch.nn.functional.one_hot(labels, 10).float()
        torch.testing.assert_close(criterion(logits, soft), expected, rtol=1e-5, atol=0)


def test_no_label_smoothing_keeps_a_loss_own_and_a_criterion_cannot_take_one():
    logits, labels = logits_and_labels()
    expected = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    torch.testing.assert_close(train.criterion_for(zoo.get("ce_ls"), 0.0)(logits, labels), expected, rtol=1e-5, atol=0)
    assert train.criterion_for("native_ce", 0.0) is train.NATIVE_CE
    with pytest.raises(ConfigError, match="label smoothing"):
        train.criterion_for(lambda logits, targets: logits.sum(), 0.1)


def test_training_and_jobs_smooth_with_the_preset_label_smoothing(monkeypatch):
    """What the trainer trains with: native CE, a Loss, and a search job's loss, each smoothed by 0.1."""
    built = []
    real = train.criterion_for
    monkeypatch.setattr(train, "criterion_for",
                        lambda loss, label_smoothing: built.append(real(loss, label_smoothing)) or built[-1])
    train.evaluate_pack(["native_ce", zoo.get("ce")], "demo", "base", seed=0, steps=1, label_smoothing=0.1)
    job = Job.of(Candidate(zoo.ce_genome()), "base", "demo", 0, overrides=(("label_smoothing", 0.1), ("steps", 1)))
    train_one(job)
    logits, labels = logits_and_labels()
    expected = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    assert len(built) == 3
    for criterion in built:
        torch.testing.assert_close(criterion(logits, labels), expected, rtol=1e-5, atol=0)


# ---- the command line --------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["train"], ["evolve"], ["eliminate"], ["correlate"]])
def test_every_training_command_has_the_options(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert all(option in result.stdout for option in OPTIONS)


@pytest.mark.parametrize("args, culprit", [
    (["train", "ce", "--mixup-alpha", "-1"], "mixup_alpha"),
    (["train", "ce", "--randaug-m", "99"], "randaug_m"),
    (["train", "ce", "--label-smoothing", "1"], "label_smoothing"),
    (["train", "ce", "--cutout-size", "abc"], "--cutout-size"),
    (["evolve", "--randaug-m", "99"], "randaug_m"),
    (["evolve", "--pad", "-2"], "pad"),
    (["correlate", "--cutout-size", "0"], "cutout_size"),
    (["eliminate", "nowhere", "--randaug-n", "-1"], "randaug_n"),
])
def test_a_bad_value_exits_2_with_one_line_before_anything_runs(args, culprit, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2 and culprit in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no run directory or store was made


def evolve_config(tmp_path, monkeypatch, *options) -> dict:
    """The configuration `symloss evolve` stores for its run (its training replaced by nothing)."""
    monkeypatch.setattr(runs, "run_evolution", lambda *args, **kwargs: [])
    result = run("evolve", "--run-dir", str(tmp_path / "run"), *options)
    assert result.exit_code == 0, result.output
    with Store.open_read_only(tmp_path / "run") as store:
        return store.run(runs.EVOLVE_RUN)["config"]


def test_evolve_stores_only_the_options_given(tmp_path, monkeypatch):
    assert not set(UNSTATED) & set(evolve_config(tmp_path / "plain", monkeypatch)["train_overrides"])
    chosen = {"cutout_size": 8, "label_smoothing": 0.1, "randaug_n": 0}
    overrides = evolve_config(tmp_path / "chosen", monkeypatch, "--cutout-size", "8", "--label-smoothing", "0.1",
                              "--randaug-n", "0")["train_overrides"]
    assert {name: value for name, value in overrides.items() if name in UNSTATED} == chosen


def test_train_passes_the_options_to_the_training():
    result = run("train", "ce", "--augment", "cutout", "--steps", "3", "--cutout-size", "4", "--mixup-alpha", "0.5",
                 "--label-smoothing", "0.1", "--json")
    assert result.exit_code == 0, result.output
    same = train.evaluate("ce", "demo", "cutout", seed=0, steps=3, cutout_size=4, mixup_alpha=0.5,
                          label_smoothing=0.1)
    assert json.loads(result.stdout)["history"] == same.history
