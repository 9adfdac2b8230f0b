"""The `symloss` command group: one line on stderr and exit 2 for every user error.

Parsing and --help import no torch, SymPy or trainer: the command modules import those inside
their functions (tests/test_cli_imports.py, benchmarks/cli_latency.py)."""
from __future__ import annotations

import os
import sys

import click

from symloss import SymlossError, __version__

from . import campaign, export, search, show, study, train


class SymlossGroup(click.Group):
    """Turns symloss's typed errors (and unexpected ones) into one line on stderr."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise click.exceptions.Exit(_fail(f"error: {error.format_message()}", 2)) from None
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except _user_errors() as error:
            raise click.exceptions.Exit(_fail(f"error: {error}", 2)) from None
        except Exception as error:  # a bug: still no traceback unless asked for
            if os.environ.get("SYMLOSS_DEBUG"):
                raise
            message = f"internal error ({type(error).__name__}: {error}); set SYMLOSS_DEBUG=1 for details"
            raise click.exceptions.Exit(_fail(message, 1)) from None


def _user_errors() -> tuple[type[BaseException], ...]:
    """The errors a user's input or machine causes: symloss's, the system's and, once a command
    has opened a store (sqlite3 is imported then, not before), SQLite's."""
    sqlite3 = sys.modules.get("sqlite3")
    return (SymlossError, OSError) + ((sqlite3.Error,) if sqlite3 is not None else ())


def _fail(message: str, status: int) -> int:
    click.echo(" ".join(message.split()), err=True)
    return status


@click.group(cls=SymlossGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="symloss")
def main() -> None:
    """Search, study and reuse symbolic loss functions for image classifiers."""


main.add_command(show.show_command)
main.add_command(show.random_command)
main.add_command(train.train_command)
main.add_command(search.evolve_command)
main.add_command(search.top_command)
main.add_command(search.eliminate_command)
main.add_command(study.correlate_command)
main.add_command(campaign.campaign_command)
main.add_command(campaign.evaluate_command)
main.add_command(study.table_group)
main.add_command(study.plot_command)
main.add_command(study.report_command)
main.add_command(export.export_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
