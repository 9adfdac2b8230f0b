"""LOSS references: the one grammar by which the command line and Python name a loss.

    ce, focal, ...        a zoo name
    RUN_DIR:best[N]       the N-th best loss of a search run (default: the best)
    NAME.json, or a file  a saved loss or a genome (JSON)
    -y*log(yhat)          an expression

A text ending in .json is always a file. Any other text is read as an expression first and
as a file only when it does not parse, so a file called `yhat` never hides the expression.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from . import zoo
from .errors import ExpressionError, GenomeError
from .genome import Genome
from .loss import SAVE_FORMAT, Loss

MAX_FILE_BYTES = 1 << 20  # a saved loss or a genome is a few kilobytes
RUN_BEST = re.compile(r"^(?P<run>.+):best(?P<rank>[1-9]\d*)?$")


def resolve(text: str) -> Loss:
    """The loss a reference names (see the module's docstring)."""
    text = text.strip()
    if text in zoo.ZOO:
        return zoo.get(text)
    match = RUN_BEST.match(text)
    if match and _exists(match["run"], Path.is_dir):
        return best_of_run(match["run"], int(match["rank"] or 1))
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
    document = read_json(path, MAX_FILE_BYTES)
    if isinstance(document, dict) and document.get("format") == SAVE_FORMAT:
        return Loss.from_dict(document)
    try:
        genome = Genome.from_dict(document)
    except GenomeError as error:
        raise GenomeError(f"{path}: expected a saved loss or a genome: {error}") from None
    return Loss.from_genome(genome, name=path.stem[:255])


def best_of_run(run_dir: str | Path, rank: int = 1) -> Loss:
    """The rank-th best searched loss of a run directory."""
    from .search import runs
    from .store import Store, StoreError

    with Store(run_dir) as store:
        best = runs.top(store, None, rank)
    if len(best) < rank:
        raise StoreError(f"{run_dir} has {len(best)} evaluated loss(es), not {rank}")
    return Loss.from_genome(Genome.from_dict(best[rank - 1].genome), name=f"{Path(run_dir).name}:best{rank}")


def read_json(path: Path, max_bytes: int):
    """A JSON document of at most max_bytes, UTF-8; any failure is one ExpressionError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise ExpressionError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise ExpressionError(f"{path} is larger than {max_bytes} bytes: not a loss file")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ExpressionError(f"{path} is not UTF-8 text") from None
    except RecursionError:
        raise ExpressionError(f"{path} nests JSON too deeply") from None
    except ValueError as error:
        raise ExpressionError(f"{path} is not JSON ({error})") from None


def _exists(text: str, test) -> bool:
    """Path test that treats a name the system refuses (too long, a NUL) as no such file."""
    try:
        return test(Path(text))
    except (OSError, ValueError):
        return False
