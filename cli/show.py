"""`symloss show` and `symloss random`: look at losses, draw genomes."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from .common import ExpressionCommand, resolve_loss

if TYPE_CHECKING:
    from symloss import Loss


def describe(loss: Loss) -> list[tuple[str, str]]:
    verdict = loss.check()
    verdict_text = (f"valid (flip={str(verdict.flip).lower()})" if verdict.valid
                    else f"invalid: {verdict.reason}")
    rows = [("name", loss.name or "-"), ("loss", loss.text()), ("latex", loss.latex()),
            ("key", loss.key), ("verdict", verdict_text)]
    if not loss.simplified:
        rows.append(("note", "too large or deeply nested to simplify: shown as written"))
    if loss.label_smoothing:
        rows.append(("label smoothing", str(loss.label_smoothing)))
    return rows


@click.command("show", cls=ExpressionCommand)
@click.argument("loss")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show_command(loss: str, as_json: bool) -> None:
    """Show LOSS (an expression, a genome JSON file or a zoo name): simplified form, LaTeX, key, verdict."""
    rows = describe(resolve_loss(loss))
    if as_json:
        click.echo(json.dumps(dict(rows)))
        return
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label:<{width}}  {value}")


@click.command("random")
@click.option("-n", "count", default=10, show_default=True, type=click.IntRange(min=1), help="How many genomes.")
@click.option("--seed", default=None, type=int, help="Random seed (same seed, same genomes).")
def random_command(count: int, seed: int | None) -> None:
    """Print N random valid genomes as JSON lines."""
    from symloss.genome import Genome, as_rng

    rng = as_rng(seed)
    for _ in range(count):
        click.echo(Genome.random(rng).to_json())
