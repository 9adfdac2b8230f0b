"""What several commands share: turning a LOSS argument into a Loss, a progress bar.

The command modules import only light modules at their top (click, symloss.errors,
symloss.presets, symloss.render, .names): what needs torch, SymPy, the trainer or only
multiprocessing or tempfile is imported inside the command's function, so parsing and
--help stay fast (tests/test_cli_imports.py)."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import click

from symloss.presets import PRECISIONS

from .names import KINDS

if TYPE_CHECKING:
    from symloss import Loss


class ExpressionCommand(click.Command):
    """A command whose arguments may be expressions starting with '-' ("-y*log(yhat)"):
    anything that starts with '-' but is no option of the command is taken as an argument."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        names = {name for param in self.get_params(ctx) for name in getattr(param, "opts", []) + getattr(param, "secondary_opts", [])}
        protected = [f" {arg}" if _is_expression(arg, names) else arg for arg in args]
        return super().parse_args(ctx, protected)


def _is_expression(arg: str, option_names: set[str]) -> bool:
    return arg.startswith("-") and arg != "--" and arg.split("=", 1)[0] not in option_names and len(arg) > 1


def executor_options(command):
    """--executor, --concurrency, --pack-size, --gpus-per-eval, --ray-address -> an `executor` argument."""
    options = [
        click.option("--executor", "kind", type=click.Choice(KINDS), default="auto", show_default=True,
                     help="auto: picked for this machine (CPU: packed, packs of 2, a worker per core; CUDA: "
                          "one evaluation per GPU); local: this process or worker processes; packed: losses "
                          "trained together as one packed model; ray: Ray tasks on a local or joined cluster."),
        click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Evaluations in flight."),
        click.option("--pack-size", type=click.IntRange(min=1), default=None,
                     help="Losses per pack (packed: default --concurrency; ray: default 1)."),
        click.option("--gpus-per-eval", type=click.FloatRange(min=0), default=None,
                     help="ray: GPUs per evaluation (0.25: four share a GPU; default 1 on a cluster with GPUs)."),
        click.option("--ray-address", default=None, help="ray: the cluster to join (default: a new local one)."),
    ]

    @functools.wraps(command)
    def wrapped(kind, concurrency, pack_size, gpus_per_eval, ray_address, **kwargs):
        from symloss.executors import ExecutorSpec

        return command(executor=ExecutorSpec(kind, concurrency, pack_size, gpus_per_eval, ray_address), **kwargs)
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


def executor_text(spec) -> str:
    """How evaluations will run, in words ("packed, 4 in flight, packs of 2")."""
    chosen = spec.describe()
    packs = f", packs of {chosen['pack_size']}" if chosen["pack_size"] else ""
    return f"{chosen['kind']}, {chosen['concurrency']} in flight{packs}" + (" (auto)" if spec.kind == "auto" else "")


TRAINING_OPTIONS = ("steps", "precision", "pad", "cutout_size", "mixup_alpha", "randaug_n", "randaug_m",
                    "label_smoothing")  # the preset fields `training_options` gives options for


def training_options(steps_help: str):
    """--steps, --precision and the values the paper leaves unstated (--pad, --cutout-size,
    --mixup-alpha, --randaug-n, --randaug-m, --label-smoothing) -> an `overrides` argument: the
    training preset's fields to replace, only those given, checked before the command runs."""
    from symloss.presets import Augmentation, check_overrides

    default = Augmentation()
    options = {  # preset field -> its option
        "steps": click.option("--steps", type=click.IntRange(min=1), default=None, help=steps_help),
        "precision": click.option("--precision", type=click.Choice(PRECISIONS), default=None,
                                  help="bf16 autocast or not (default: bf16 on CUDA, float32 on a CPU; evolve and "
                                       "campaign store the choice with the run)."),
        "pad": click.option("--pad", type=int, default=None,
                            help=f"Zero padding of the random crop, px at 32x32 (default {default.pad})."),
        "cutout_size": click.option("--cutout-size", type=int, default=None,
                                    help=f"Cutout's square, px at 32x32 (default {default.cutout_size})."),
        "mixup_alpha": click.option("--mixup-alpha", type=float, default=None,
                                    help=f"Mixup's Beta(alpha, alpha) (default {default.mixup_alpha})."),
        "randaug_n": click.option("--randaug-n", type=int, default=None,
                                  help=f"RandAugment's operations per image (default {default.randaug_n})."),
        "randaug_m": click.option("--randaug-m", type=int, default=None,
                                  help=f"RandAugment's magnitude, 0-30 (default {default.randaug_m})."),
        "label_smoothing": click.option("--label-smoothing", type=float, default=None,
                                        help="Label smoothing of the training targets (default 0: a loss's own)."),
    }


    def decorate(command):
        @functools.wraps(command)
        def wrapped(**kwargs):
            overrides = {name: value for name in options if (value := kwargs.pop(name)) is not None}
            check_overrides(overrides)
            return command(overrides=overrides, **kwargs)
        for option in reversed(options.values()):
            wrapped = option(wrapped)
        return wrapped
    return decorate


def resolve_loss(text: str) -> Loss:
    """A loss from a zoo name, RUN_DIR:best[N], a genome or saved-loss JSON file, or an expression."""
    from symloss import references

    return references.resolve(text)


class StepBar:
    """A progress callback that opens a tqdm bar on its first call (so errors print cleanly)."""

    def __init__(self, enabled: bool = True, unit: str = "step"):
        self.enabled, self.unit, self.bar = enabled, unit, None

    def __call__(self, done: int, total: int, row: dict) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=self.unit, leave=False)
        self.bar.update(done - self.bar.n)
        if row:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if isinstance(v, float)}, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "StepBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def results_tables(results: dict, fmt: str) -> str:
    """Tables 5 and 6 (the columns of fine-tuning data sets) of results[label][column], each headed."""
    from symloss.campaign import split_tables
    from symloss.render import tables
    from symloss.study import summarise

    split = split_tables(results)
    if not split:
        raise click.UsageError("no results to show")
    heading = {"latex": "% {}", "markdown": "**{}**"}.get(fmt, "{}:")
    return "\n".join(heading.format(f"Table {number}") + "\n" + tables.results_table(summarise(found), fmt)
                     for number, found in split.items())
