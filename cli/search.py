"""`symloss evolve`, `symloss top`, `symloss eliminate`: run and read searches."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from symloss.presets import SEARCH_PRESETS
from symloss.render import terminal_safe

from .campaign import StageBars, given, interrupted, refuse_given
from .common import TRAINING_OPTIONS, StepBar, executor_options, executor_text, training_options
from .names import ELIMINATION_PRESETS, TECHNIQUES

if TYPE_CHECKING:
    from symloss.store import Store


def _interrupted(store, run_id, run_dir) -> click.exceptions.Exit:
    """Ctrl-C: mark the run, say how to resume, exit 130."""
    store.set_status(run_id, "interrupted")
    click.echo(f"interrupted: resume with `symloss evolve --resume {run_dir}`", err=True)
    return click.exceptions.Exit(130)


def _best_tracker(bar: StepBar, total: int, done: int = 0, best: float = 0.0):
    """A progress callback counting results (from `done` already in the store) and the best fitness."""
    state = {"done": done, "best": best}

    def on_result(row: dict) -> None:
        state["done"] += 1
        state["best"] = max(state["best"], row["fitness"])
        bar(state["done"], total, {"best": state["best"]})
    return on_result


def print_top(rows, baseline=None) -> None:
    """The rows as text; what comes from the store is made terminal-safe (no escape sequences)."""
    safe = terminal_safe
    for rank, row in enumerate(rows, 1):
        click.echo(f"{rank}. fitness {row['fitness']:.4f}  [{safe(row['status'])}]  key {safe(row['key'])}")
        click.echo(f"   {safe(row['expression'])}")
        click.echo(f"   $${safe(row['latex'])}$$")
    if baseline is not None:
        click.echo(f"CE baseline: fitness {baseline.fitness:.4f}  [{safe(baseline.status)}]")


def open_run(run_dir) -> tuple[Store, int]:
    """The store of the evolution run in `run_dir`, read-only, every row checked, and the run's id."""
    from symloss.search import runs
    from symloss.store import Store, StoreError

    store = Store.open_read_only(run_dir)
    run = store.run(runs.EVOLVE_RUN)
    if run is None:
        store.close()
        raise StoreError(f"{run_dir} holds no evolution run")
    return store, run["id"]


_SPEC_TYPES = {"preset": str, "technique": str, "seed": int, "initial": (int, type(None)),
               "population": (int, type(None)), "tournament": (int, type(None)),
               "iterations": (int, type(None)), "data_root": (str, type(None)), "train_overrides": dict,
               "initial_from": (str, type(None))}


def _check_resumable(run_dir) -> None:
    """Before a resume writes anything: every row of the store, each stored genome, and the run's
    configuration, read and checked (a StoreError or ConfigError, and the file left as it was)."""
    from symloss.search import runs
    from symloss.store import Store, StoreError

    with Store.open_read_only(run_dir, check=False) as store:
        store.check(genomes=True)
        run = store.run(runs.EVOLVE_RUN)
    if run is None:
        raise StoreError(f"{run_dir} holds no evolution run")
    config = run["config"]
    for name, kind in _SPEC_TYPES.items():
        value = config.get(name)
        if name in config and (not isinstance(value, kind) or isinstance(value, bool)):
            raise StoreError(f"{run_dir}: the run's configuration has {name} = {value!r:.40}, not one this version reads")
    overrides = config.get("train_overrides", {})
    if not all(isinstance(k, str) and isinstance(v, (int, float, str)) for k, v in overrides.items()):
        raise StoreError(f"{run_dir}: the run's training overrides are not names and values")
    try:
        spec = runs.EvolveSpec(**config)
    except TypeError as error:
        raise StoreError(f"{run_dir}: its run configuration is not one this version reads ({error})") from None
    spec.validate()


def _rows(store, evaluations):
    """The rows `top` prints: each evaluation with its stored formulas, its genome checked."""
    rows = []
    for evaluation in evaluations:
        genome = store.require_genome(evaluation.key)
        if evaluation.genome is not None:
            store.genome_of(evaluation)
        rows.append({"key": evaluation.key, "fitness": evaluation.fitness, "status": evaluation.status,
                     "reason": evaluation.reason, "stage": evaluation.stage, "iteration": evaluation.iteration,
                     "expression": genome["expression"], "latex": genome["latex"], "genome": evaluation.genome})
    return rows


RUN_OPTIONS = ("run_dir", "preset", "augment", "seed", "initial", "population", "tournament", "iterations",
               "data_root", *TRAINING_OPTIONS)


def _refuse_run_options_with_resume() -> None:
    """A resumed run keeps its stored configuration; options that would change it are an error."""
    refuse_given(RUN_OPTIONS, "--resume continues the run as configured; {options} cannot change it "
                              "(start a new run instead)")


def _evolve_in_campaign(campaign_dir, technique: str, overrides: dict, executor) -> None:
    """`evolve --campaign`: the campaign's evolution of `technique` (resumable), then its top 5."""
    refuse_given(("resume_dir",) + tuple(n for n in RUN_OPTIONS if n not in ("augment", "steps", "precision")),
                 "--campaign runs the campaign's evolution as the campaign was made; {options} cannot change it")
    if not given("augment"):
        raise click.UsageError("--campaign needs --technique")
    from symloss import campaign, executors
    from symloss.search import runs

    with (executors.running(executor) as running,
          campaign.open_campaign(campaign_dir, overrides=overrides or None) as opened, StageBars() as bars):
        try:
            campaign.run_evolution_stage(opened, technique, running, bars)
        except KeyboardInterrupt:
            raise interrupted(f"symloss evolve --campaign {campaign_dir} --technique {technique}") from None
        bars.close()
        store = opened.store
        run_id = store.run(campaign.evolve_run(technique))["id"]
        click.echo(f"top 5 of {technique} in {campaign_dir}:")
        print_top(_rows(store, runs.top(store, run_id, 5)), runs.stored_baseline(store, run_id))


@click.command("evolve")
@click.option("--run-dir", type=click.Path(file_okay=False), default=None, help="Where the run's store goes (default: runs/<time>-<preset>-<technique>).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None, help="Continue the run in this directory.")
@click.option("--preset", default="demo", show_default=True, type=click.Choice(sorted(SEARCH_PRESETS)))
@click.option("--augment", "--technique", "augment", default="base", show_default=True, type=click.Choice(TECHNIQUES))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--initial", type=click.IntRange(min=1), default=None, help="Random losses evaluated first.")
@click.option("--population", type=click.IntRange(min=1), default=None, help="Population size.")
@click.option("--tournament", type=click.IntRange(min=1), default=None, help="Tournament size.")
@click.option("--iterations", type=click.IntRange(min=0), default=None, help="Children bred and evaluated.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None)
@click.option("--campaign", "campaign_dir", type=click.Path(file_okay=False), default=None,
              help="Run the evolution of --technique of this campaign (its first population: the campaign's study).")
@training_options("Override the training preset's steps.")
@executor_options
def evolve_command(run_dir, resume_dir, preset, augment, seed, initial, population, tournament, iterations,
                   data_root, campaign_dir, overrides, executor):
    """Search for losses by regularized evolution (default: the demo on the embedded digits)."""
    if campaign_dir:
        return _evolve_in_campaign(campaign_dir, augment, overrides, executor)
    if resume_dir:
        _refuse_run_options_with_resume()
    from symloss import executors
    from symloss.search import runs

    executor_spec = executor
    with executors.running(executor) as executor:  # bad executor options fail before a run exists
        if resume_dir:
            _check_resumable(resume_dir)
            store, run_id, spec = runs.reopen(resume_dir)
            run_dir = resume_dir
        else:
            root = str(Path(data_root).resolve()) if data_root else None
            overrides.setdefault("precision", executors.machine_precision())
            spec = runs.EvolveSpec(preset, augment, seed, initial, population, tournament, iterations, root,
                                   overrides)
            run_dir = run_dir or str(runs.default_run_dir(spec))
            store, run_id = runs.start(run_dir, spec)
        click.echo(f"run directory: {run_dir}", err=True)
        click.echo(f"executor: {executor_text(executor_spec)}; precision: {spec.train_overrides.get('precision', 'auto')}",
                   err=True)
        with store, StepBar(unit="eval") as bar:
            try:
                best = max((e.fitness for e in store.evaluations(run_id)), default=0.0)
                progress = _best_tracker(bar, runs.total_evaluations(spec), runs.completed(store, run_id), best)
                runs.run_evolution(store, run_id, spec, executor, progress)
            except KeyboardInterrupt:
                raise _interrupted(store, run_id, run_dir) from None
            bar.close()
            click.echo(f"top 5 of {run_dir} ({spec.preset}, {spec.technique}, seed {spec.seed}):")
            print_top(_rows(store, runs.top(store, run_id, 5)), runs.stored_baseline(store, run_id))


@click.command("top")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-n", "count", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--all", "show_all", is_flag=True, help="Every evaluated loss.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def top_command(run_dir, count, show_all, as_json):
    """List the best losses of the run in RUN_DIR (read-only: the store is not changed)."""
    from symloss.search import runs

    store, run_id = open_run(run_dir)
    with store:
        rows = _rows(store, runs.top(store, run_id, None if show_all else count))
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
    else:
        print_top(rows)


def _print_finalists(store, finalists, tau: float, count: int) -> None:
    for rank, finalist in enumerate(finalists, 1):
        genome = store.require_genome(finalist.key)
        click.echo(f"{rank}. mean fitness {finalist.fitness:.4f} over {finalist.runs} run(s)  "
                   f"key {terminal_safe(finalist.key)}")
        click.echo(f"   {terminal_safe(genome['expression'])}")
    click.echo(f"Kendall tau, long surrogate training vs the large model's (large-1), over {count} losses: {tau:.3f}")


def _eliminate_in_campaign(directory, technique: str, preset: str, overrides: dict, executor) -> None:
    """`eliminate DIR --technique T`: the elimination of the campaign's evolution of T (resumable)."""
    from symloss import campaign, executors
    from symloss.errors import ConfigError
    from symloss.search import runs

    with (executors.running(executor) as running,
          campaign.open_campaign(directory, overrides=overrides or None) as opened, StageBars() as bars):
        if given("preset") and preset != opened.preset.elimination:
            raise ConfigError(f"{directory} eliminates with the preset {opened.preset.elimination!r}, not {preset!r}")
        try:
            finalists = campaign.run_elimination_stage(opened, technique, running, bars)
        except KeyboardInterrupt:
            raise interrupted(f"symloss eliminate {directory} --technique {technique}") from None
        bars.close()
        tau, count = runs.elimination_tau(opened.store, opened.preset.elimination, campaign.eliminate_run(technique))
        _print_finalists(opened.store, finalists, tau, count)


@click.command("eliminate")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--preset", default="demo", show_default=True, type=click.Choice(sorted(ELIMINATION_PRESETS)))
@click.option("--technique", type=click.Choice(TECHNIQUES), default=None,
              help="RUN_DIR is a campaign: eliminate its evolution of this technique (with the campaign's preset).")
@training_options("Shorten every stage's training (a quick look).")
@executor_options
def eliminate_command(run_dir, preset, technique, overrides, executor):
    """Carry the run's best losses through the elimination protocol's stages (resumable)."""
    if technique:
        return _eliminate_in_campaign(run_dir, technique, preset, overrides, executor)
    from symloss import executors
    from symloss.search import runs

    with executors.running(executor) as executor:  # bad executor options fail before a stage exists
        _check_resumable(run_dir)
        store, run_id, spec = runs.reopen(run_dir)
        with store, StepBar(unit="eval") as bar:
            try:
                progress = _best_tracker(bar, runs.elimination_size(preset))
                finalists = runs.run_elimination(store, run_id, spec, preset, executor, progress,
                                                 overrides=overrides or None)
            except KeyboardInterrupt:
                raise _interrupted(store, run_id, run_dir) from None
            bar.close()
            _print_finalists(store, finalists, *runs.elimination_tau(store, preset))
