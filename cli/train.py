"""`symloss train`: train one loss under one preset and augmentation technique."""
from __future__ import annotations

import json

import click

from symloss.presets import PRESETS

from .common import ExpressionCommand, StepBar, resolve_loss, training_options
from .names import DATASETS, TECHNIQUES


@click.command("train", cls=ExpressionCommand)
@click.argument("loss")
@click.option("--preset", default="demo", show_default=True, help=f"One of: {', '.join(PRESETS)}.")
@click.option("--augment", default="base", show_default=True, type=click.Choice(TECHNIQUES))
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Where the data sets are.")
@click.option("--download", is_flag=True, help="Download a missing data set into --data-root.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda when present).")
@training_options("Override the preset's steps.")
@click.option("--dataset", type=click.Choice(DATASETS), default=None, help="Override the preset's data set.")
@click.option("--weights", type=click.Path(dir_okay=False), default=None,
              help="Pretrained weights (a local state_dict file) for paper-effnet.")
@click.option("--json", "as_json", is_flag=True, help="Print the Evaluation as JSON.")
def train_command(loss, preset, augment, data_root, download, seed, device, overrides, dataset, weights, as_json):
    """Train with LOSS ("ce" = torch's native cross-entropy; else a zoo name, expression or genome file)."""
    from symloss import train

    criterion = "ce" if loss == "ce" else resolve_loss(loss)
    overrides |= {name: value for name, value in (("dataset", dataset), ("weights", weights)) if value}
    with StepBar(enabled=not as_json) as bar:
        result = train.evaluate(criterion, preset, augment, seed, data_root=data_root, download=download,
                                device=device, progress=bar, **overrides)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    click.echo(f"fitness     {result.fitness:.4f}  (best validation accuracy)")
    click.echo(f"status      {result.status}" + (f": {result.reason}" if result.reason else ""))
    click.echo(f"steps       {result.steps}")
    click.echo(f"wall        {result.wall_s:.1f} s")
    if result.final_val_loss is not None:
        click.echo(f"val loss    best {result.best_val_loss}  final {result.final_val_loss}")
