"""What the figure scripts share: their options, and a small run on the embedded data when
no run directory is given (the paper-scale runs are made with `symloss evolve`/`correlate`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from symloss.search import runs
from symloss.store import Store
from symloss.study import run_study, stored_study

SMALL_STEPS = 30  # training steps per loss in the small runs: a picture in about a minute on a CPU


def options(description: str, default_name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--run-dir", default=None, help="a run directory (default: make a small one)")
    parser.add_argument("--out", default=f"figures/out/{default_name}", help="the file to write")
    return parser.parse_args()


def study_store(run_dir: str | None) -> Store:
    """The store of a correlation study: the given run's, or a small new one (8 losses x 5 techniques)."""
    if run_dir:
        return Store(run_dir)
    store = Store(Path("figures/out/small-study"), create=True)
    if stored_study(store) is None:
        run_study(store, 8, ["base", "cutout", "mixup", "randaug", "all"], "demo", 0, top_k=4,
                  overrides={"steps": SMALL_STEPS})
    return store


def evolution_store(run_dir: str | None) -> tuple[Store, int]:
    """The store of an evolution run: the given one, or a small new one."""
    if run_dir:
        store, run_id, _ = runs.reopen(run_dir)
        return store, run_id
    directory = Path("figures/out/small-evolution")
    if (directory / "store.sqlite").exists():
        store, run_id, spec = runs.reopen(directory)
    else:
        spec = runs.EvolveSpec(initial=6, population=3, tournament=2, iterations=4,
                               train_overrides={"steps": SMALL_STEPS})
        store, run_id = runs.start(directory, spec)
    runs.run_evolution(store, run_id, spec)
    return store, run_id


def write(text_or_path, out: str) -> None:
    """Write a table's text (or report a picture's path)."""
    if isinstance(text_or_path, str):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text_or_path)
    print(out)
