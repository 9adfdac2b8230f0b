"""`symloss export`: a loss for code that does not use symloss."""
from __future__ import annotations

import click

from symloss.render import terminal_safe

from .common import ExpressionCommand, resolve_loss
from .names import EXPORT_FORMATS


@click.command("export", cls=ExpressionCommand)
@click.argument("loss")
@click.option("--format", "fmt", default="torch", show_default=True, type=click.Choice(sorted(EXPORT_FORMATS)))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Default: standard output.")
def export_command(loss, fmt, output):
    """Export LOSS (zoo name, expression, genome file or RUN_DIR:best[N]): torch module, python, latex, sympy, json."""
    from symloss import export

    text = export.export(resolve_loss(loss), fmt)
    if output:
        from symloss.files import write_text_atomic

        write_text_atomic(output, text)
        click.echo(terminal_safe(output))
    else:
        click.echo(text, nl=False)
