"""LOSS references: the one grammar by which the command line and Python name a loss.

    ce, focal, ...        a zoo name
    RUN_DIR:best[N]       the N-th best loss of a search run (default: the best)
    DIR:finalist[T,N]     the N-th finalist (0: the best) of technique T's elimination in a campaign
    NAME.json, or a file  a saved loss or a genome (JSON)
    -y*log(yhat)          an expression

A text ending in .json is always a file. Any other text is read as an expression first and
as a file only when it does not parse, so a file called `yhat` never hides the expression.
"""
from __future__ import annotations

import re
from pathlib import Path

from . import zoo
from .errors import ExpressionError, GenomeError
from .files import read_json
from .genome import Genome
from .loss import MAX_FILE_BYTES, SAVE_FORMAT, Loss

RUN_BEST = re.compile(r"^(?P<run>.+):best(?P<rank>[1-9]\d*)?$")
FINALIST = re.compile(r"^(?P<campaign>.+):finalist\[\s*(?P<technique>[a-z]+)\s*,\s*(?P<rank>\d{1,3})\s*\]$")


def resolve(text: str) -> Loss:
    """The loss a reference names (see the module's docstring)."""
    text = text.strip()
    if text in zoo.ZOO:
        return zoo.get(text)
    match = RUN_BEST.match(text)
    if match and _exists(match["run"], Path.is_dir):
        return best_of_run(match["run"], int(match["rank"] or 1))
    match = FINALIST.match(text)
    if match:
        return finalist_of(match["campaign"], match["technique"], int(match["rank"]))
    if text.endswith(".json"):
        return load_file(text)
    try:
        return Loss.parse(text)
    except ExpressionError:
        if _exists(text, Path.is_file):
            return load_file(text)
        raise


def load_file(path: str | Path) -> Loss:
    """A saved loss (Loss.save) or a genome in the exchange format, read by a whitelist."""
    path = Path(path)
    document = read_json(path, "loss file", ExpressionError, MAX_FILE_BYTES)
    if isinstance(document, dict) and document.get("format") == SAVE_FORMAT:
        return Loss.from_dict(document)
    try:
        genome = Genome.from_dict(document)
    except GenomeError as error:
        raise GenomeError(f"{path}: expected a saved loss or a genome: {error}") from None
    return Loss.from_genome(genome, name=path.stem[:255])


def best_of_run(run_dir: str | Path, rank: int = 1) -> Loss:
    """The rank-th best searched loss of a run directory (read-only: the store is checked, not changed)."""
    from .search import runs
    from .store import Store, StoreError

    with Store.open_read_only(run_dir) as store:
        best = runs.top(store, None, rank)
        if len(best) < rank:
            raise StoreError(f"{run_dir} has {len(best)} evaluated loss(es), not {rank}")
        return store.loss(best[rank - 1], name=f"{Path(run_dir).name}:best{rank}")


def finalist_of(campaign_dir: str | Path, technique: str, rank: int = 0) -> Loss:
    """The rank-th finalist (0: the best) of `technique` in a campaign directory (read-only)."""
    from .campaign import finalists
    from .store import Store, StoreError

    with Store.open_read_only(campaign_dir) as store:
        chosen = finalists(store, technique)
        if rank >= len(chosen):
            raise StoreError(f"{campaign_dir}: the elimination of {technique} has {len(chosen)} finalist(s), "
                             f"no finalist {rank}")
        return store.rebuild(chosen[rank].genome, f"finalist {rank} of {technique}",
                             name=f"{Path(campaign_dir).name}:finalist[{technique},{rank}]")


def _exists(text: str, test) -> bool:
    """Path test that treats a name the system refuses (too long, a NUL) as no such file."""
    try:
        return test(Path(text))
    except (OSError, ValueError):
        return False
