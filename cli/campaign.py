"""`symloss campaign`, `symloss evaluate`: the paper's whole protocol in one directory, and its
final evaluation. The stage commands (`correlate --campaign`, `evolve --campaign`, `eliminate
--technique`) run one stage of a campaign; each stage reads the one before from the store."""
from __future__ import annotations

import time
from pathlib import Path

import click
from click.core import ParameterSource

from symloss.render import terminal_safe

from .common import StepBar, executor_options, executor_text, results_tables, training_options
from .names import CAMPAIGN_PRESETS, EVALUATE_PRESETS


class StageBars:
    """A campaign's progress callback: a bar per stage, its name printed as it starts."""

    def __init__(self):
        self.stage, self.bar = None, StepBar(unit="eval")

    def __call__(self, row: dict) -> None:
        if row["stage"] != self.stage:
            self.bar.close()
            self.stage = row["stage"]
            click.echo(terminal_safe(row["stage"]), err=True)
        self.bar(row["done"], row["total"] or row["done"], {"fitness": row["fitness"]})

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "StageBars":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def given(name: str) -> bool:
    """Whether the option `name` of the running command was given (on the command line or by the environment)."""
    return click.get_current_context().get_parameter_source(name) not in (None, ParameterSource.DEFAULT)


def refuse_given(names, message: str) -> None:
    """A usage error naming the options of `names` that were given (`message` has an {options} field)."""
    context = click.get_current_context()
    chosen = [param.opts[0] for param in context.command.params if param.name in names and given(param.name)]
    if chosen:
        raise click.UsageError(message.format(options=", ".join(chosen)))


def interrupted(command: str) -> click.exceptions.Exit:
    """Ctrl-C: say how to go on, exit 130."""
    click.echo(f"interrupted: resume with `{terminal_safe(command)}`", err=True)
    return click.exceptions.Exit(130)


def new_campaign_options(directory: str, overrides: dict) -> dict | None:
    """The training options to open `directory` with: for a new campaign those given, with the
    machine's precision unless given; for one already there those given only (None: none)."""
    from symloss import executors
    from symloss.store import FILENAME

    if (Path(directory) / FILENAME).exists():
        return overrides or None
    return {"precision": executors.machine_precision(), **overrides}


def absolute(data_root: str | None) -> str | None:
    return str(Path(data_root).resolve()) if data_root else None


def print_status(store) -> None:
    """Where each stage of the campaign stands, and each elimination's tau (Section 4.1)."""
    from symloss import campaign

    for stage in campaign.status(store):
        total = "?" if stage.total is None else stage.total
        click.echo(f"{stage.run:<18} {stage.state:<12} {stage.done}/{total}")
    for technique, (tau, count) in campaign.elimination_taus(store).items():
        click.echo(f"Kendall tau of {technique}, long surrogate vs the large model's first run, over {count} losses: "
                   f"{tau:.3f}")


@click.command("campaign")
@click.option("--preset", type=click.Choice(CAMPAIGN_PRESETS), default=None,
              help="demo: the embedded digits, small sizes (default for a new campaign); paper: PROTOCOL.md's "
                   "sizes (GPUs, --data-root). A campaign is continued with the preset it was made with.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="The campaign's directory (default: runs/<time>-campaign-<preset>); one already there goes on.")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              help="Continue the campaign in this directory.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None)
@training_options("Override every stage's training steps (a quick look).")
@executor_options
def campaign_command(preset, directory, resume_dir, data_root, overrides, executor):
    """Run every stage of the paper's protocol in one directory, resumable: the correlation
    study, an evolution and an elimination per technique, the final evaluation."""
    if directory and resume_dir:
        raise click.UsageError("give --dir or --resume, not both")
    from symloss import campaign, executors

    directory = resume_dir or directory or f"runs/{time.strftime('%Y%m%d-%H%M%S')}-campaign-{preset or 'demo'}"
    with executors.running(executor) as running:  # bad executor options fail before a directory exists
        options = new_campaign_options(directory, overrides)
        with campaign.open_campaign(directory, preset, absolute(data_root), options, create=not resume_dir) as opened:
            precision = opened.overrides.get("precision", "auto")  # made now (--dir) or before, with what is given
        click.echo(f"campaign directory: {terminal_safe(directory)}\nexecutor: {executor_text(executor)}; "
                   f"precision: {precision}", err=True)
        with StageBars() as bars:
            try:
                campaign.run_campaign(directory, preset, running, bars, options, absolute(data_root))
            except KeyboardInterrupt:
                raise interrupted(f"symloss campaign --resume {directory}") from None
    with campaign.open_campaign(directory) as opened:
        print_status(opened.store)
    click.echo(f"tables: symloss table results {terminal_safe(directory)}")


@click.command("evaluate")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--preset", type=click.Choice(EVALUATE_PRESETS), default=None,
              help="paper-wrn: CIFAR-10/100 on WRN-28-10 (Table 5); paper-effnet: fine-tuning (Table 6, needs "
                   "--weights); demo: the embedded digits (default: the campaign's own).")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="Runs per loss and column (default 3).")
@click.option("--label-smoothing", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Of the +LS rows (default 0.1; a campaign keeps the value of its first evaluation).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None,
              help="ImageNet weights (a local state_dict file) to fine-tune from (paper-effnet).")
@executor_options
def evaluate_command(directory, preset, seeds, label_smoothing, weights, executor):
    """The final evaluation of the campaign in DIRECTORY: every technique's finalists, CE, CE with
    label smoothing and the best finalist with it, under every technique, several seeds (resumable)."""
    from symloss import campaign, executors

    with executors.running(executor) as running, campaign.open_campaign(directory) as opened, StageBars() as bars:
        chosen = [preset] if preset else list(opened.preset.evaluate)
        try:
            for name in chosen:
                campaign.run_final_evaluation(opened, name, running, bars, seeds=seeds,
                                              label_smoothing=label_smoothing, weights=absolute(weights))
        except KeyboardInterrupt:
            raise interrupted(f"symloss evaluate {directory}") from None
        bars.close()
        click.echo(results_tables(campaign.final_results(opened.store), "text"), nl=False)
