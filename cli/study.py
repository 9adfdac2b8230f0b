"""`symloss correlate`, `table`, `plot`, `report`: studies, tables and pictures for papers."""
from __future__ import annotations

import json
from pathlib import Path

import click

from symloss.presets import PRESETS
from symloss.render import terminal_safe

from .campaign import StageBars, absolute, interrupted, new_campaign_options, refuse_given
from .common import ExpressionCommand, StepBar, executor_options, resolve_loss, results_tables, training_options
from .names import CAMPAIGN_PRESETS, TABLE_FORMATS, TECHNIQUES


def _techniques(text: str) -> list[str]:
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in TECHNIQUES]
    if unknown or len(chosen) < 2:
        raise click.BadParameter(f"give two or more of {', '.join(TECHNIQUES)} (got {text!r})")
    return chosen


@click.command("correlate")
@click.option("--run-dir", type=click.Path(file_okay=False), default="runs/correlate", show_default=True)
@click.option("--n", "count", default=20, show_default=True, type=click.IntRange(min=2), help="Random losses.")
@click.option("--techniques", default=",".join(TECHNIQUES), show_default=True, help="Comma-separated.")
@click.option("--top-k", default=50, show_default=True, type=click.IntRange(min=2), help="The best-k set of each pair.")
@click.option("--preset", default="demo", show_default=True, type=click.Choice(sorted(PRESETS)))
@click.option("--seed", default=0, show_default=True, type=int)
@training_options("Override the preset's training steps.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True, help="Techniques, losses, accuracies and tau as JSON.")
@click.option("--campaign", "campaign_dir", type=click.Path(file_okay=False), default=None,
              help="Run the study of this campaign (made here with --campaign-preset when there is none).")
@click.option("--campaign-preset", type=click.Choice(CAMPAIGN_PRESETS), default=None,
              help="The preset of a new --campaign (default demo).")
@executor_options
def correlate_command(run_dir, count, techniques, top_k, preset, seed, overrides, data_root, as_json, campaign_dir,
                      campaign_preset, executor):
    """Kendall's tau between augmentation techniques over N random losses (Table 3)."""
    if campaign_dir:
        return _correlate_in_campaign(campaign_dir, campaign_preset, overrides, data_root, as_json, executor)
    if campaign_preset:
        raise click.UsageError("--campaign-preset needs --campaign")
    chosen = _techniques(techniques)
    from symloss import executors
    from symloss.render import tables
    from symloss.store import Store
    from symloss.study import run_study

    with (executors.running(executor) as executor, Store(run_dir, create=True) as store,
          StepBar(unit="eval", enabled=not as_json) as bar):
        done = {"n": 0}

        def progress(row):
            done["n"] += 1
            bar(done["n"], count * len(chosen), row)

        try:
            study = run_study(store, count, chosen, preset, seed, top_k, executor,
                              overrides or None, data_root, progress)
        except KeyboardInterrupt:
            click.echo("interrupted: the same command resumes the study", err=True)
            raise click.exceptions.Exit(130) from None
    if as_json:
        click.echo(json.dumps(study.to_dict()))
    else:
        click.echo(tables.tau_table(study, "text"), nl=False)


def _correlate_in_campaign(directory, preset, overrides: dict, data_root, as_json: bool, executor) -> None:
    """`correlate --campaign`: the campaign's study (resumable), its tau table."""
    refuse_given(("run_dir", "count", "techniques", "top_k", "preset", "seed"),
                 "--campaign studies as the campaign's preset says; {options} cannot change it")
    from symloss import campaign, executors
    from symloss.render import tables
    from symloss.study import stored_study

    with (executors.running(executor) as running,
          campaign.open_campaign(directory, preset, absolute(data_root), new_campaign_options(directory, overrides),
                                 create=True) as opened, StageBars() as bars):
        try:
            campaign.run_study_stage(opened, running, None if as_json else bars)
        except KeyboardInterrupt:
            raise interrupted(f"symloss correlate --campaign {directory}") from None
        study = stored_study(opened.store, opened.preset.top_k)
    if as_json:
        click.echo(json.dumps(study.to_dict()))
    else:
        click.echo(tables.tau_table(study, "text"), nl=False)


@click.group("table")
def table_group():
    """LaTeX (booktabs), Markdown or text tables."""


FORMAT = click.option("--format", "fmt", default="latex", show_default=True, type=click.Choice(TABLE_FORMATS))


@table_group.command("equations", cls=ExpressionCommand)
@click.argument("losses", nargs=-1)
@click.option("--run-dir", type=click.Path(file_okay=False), default=None, help="Take the run's best losses.")
@click.option("--top", "count", default=5, show_default=True, type=click.IntRange(min=1))
@FORMAT
def equations_command(losses, run_dir, count, fmt):
    """Equations of LOSSES (zoo names, expressions, genome files) and/or a run's best (Table 4)."""
    from symloss.render import tables

    entries = [(loss.name or text, loss.latex()) for text in losses for loss in [resolve_loss(text)]]
    if run_dir:
        from symloss.search import runs
        from symloss.store import Store

        with Store.open_read_only(run_dir) as store:  # LaTeX rebuilt from the genomes, not the stored LaTeX
            entries += tables.run_equations(store, runs.top(store, None, count))
    if not entries:
        raise click.UsageError("give losses or --run-dir")
    click.echo(tables.equation_table(entries, fmt), nl=False)


@table_group.command("tau")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--top-k", default=50, show_default=True, type=click.IntRange(min=2))
@FORMAT
def tau_command(run_dir, top_k, fmt):
    """The correlation study of RUN_DIR as the paper's Table 3."""
    from symloss.render import tables
    from symloss.store import Store
    from symloss.study import stored_study

    with Store.open_read_only(run_dir) as store:
        study = stored_study(store, top_k)
    if study is None:
        raise click.UsageError(f"{run_dir} holds no correlation study (run `symloss correlate --run-dir {run_dir}`)")
    click.echo(tables.tau_table(study, fmt), nl=False)


def _campaign_results(directory) -> dict:
    """A campaign's final evaluation, results[label][column] (a UsageError when it has none)."""
    from symloss import campaign
    from symloss.store import Store

    with Store.open_read_only(directory) as store:
        campaign.load(store)  # a campaign's directory, or a StoreError
        results = campaign.final_results(store)
    if not results:
        raise click.UsageError(f"{directory} holds no final evaluation (run `symloss evaluate {directory}`)")
    return results


@table_group.command("results")
@click.argument("file", type=click.Path(exists=True))
@FORMAT
def results_command(file, fmt):
    """Mean +- std, the best of each column in bold, as the paper's Table 5 (trained from scratch)
    and Table 6 (the fine-tuning data sets): of FILE ({loss: {column "<data set> <technique>":
    [values of several seeds]}}), or of the final evaluation of the campaign in the directory FILE."""
    from symloss.files import read_json

    if Path(file).is_dir():
        click.echo(results_tables(_campaign_results(file), fmt), nl=False)
        return
    data = read_json(file, "results file")
    try:
        text = results_tables(data, fmt)
    except (ValueError, TypeError, AttributeError) as error:
        raise click.UsageError(f"{file}: expected {{loss: {{column: [numbers]}}}} ({error})") from None
    click.echo(text, nl=False)


@click.command("plot", cls=ExpressionCommand)
@click.argument("kind", type=click.Choice(["binary", "surface", "diff"]))
@click.argument("losses", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="A .png or .pdf file.")
def plot_command(kind, losses, output):
    """Phenotype pictures: binary curves (several losses, CE for reference), a surface, its difference from CE."""
    from symloss.render import plots

    resolved = [resolve_loss(text) for text in losses]
    for text, loss in zip(losses, resolved):
        loss.name = loss.name or text.strip()
    if kind == "binary":
        path = plots.binary(plots.named(resolved), output)
    elif len(resolved) != 1:
        raise click.UsageError(f"plot {kind} takes one loss")
    else:
        path = (plots.surface if kind == "surface" else plots.difference)(resolved[0], output)
    click.echo(terminal_safe(path))


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Default: RUN_DIR/report.html.")
@click.option("--top", "count", default=10, show_default=True, type=click.IntRange(min=1))
def report_command(run_dir, output, count):
    """One self-contained HTML page for the run in RUN_DIR (read-only: the store is not changed)."""
    from symloss.files import refuse_store, write_text_atomic
    from symloss.render import report
    from symloss.search import runs
    from symloss.store import Store
    from symloss.study import stored_study

    path = Path(output) if output else Path(run_dir) / "report.html"
    refuse_store(path)  # before the work, not after it
    with Store.open_read_only(run_dir) as store:
        evolve = store.run(runs.EVOLVE_RUN)
        baseline = runs.stored_baseline(store, evolve["id"]) if evolve else None
        page = report.render(store, runs.top(store, None, count), baseline, stored_study(store),
                             title=f"symloss run {Path(run_dir).name}")
    write_text_atomic(path, page)
    click.echo(terminal_safe(path))
