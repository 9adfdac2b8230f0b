"""What the figure scripts share: their options, the losses a run directory gives them, and a
small run on the embedded data when no run directory is given (the paper-scale runs are made
with `symloss correlate`/`evolve`/`eliminate` or as a campaign).

A run directory given to a script is opened read-only: no script changes a user's run."""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from symloss import Loss, campaign
from symloss.augment import TECHNIQUES
from symloss.search import runs
from symloss.search.elimination import FINALISTS
from symloss.store import Store, StoreError
from symloss.study import Study, run_study, stored_study

SMALL_STEPS = 30  # training steps per loss in the small runs: a picture in about a minute on a CPU
SMALL_STUDY = Path("figures/out/small-study")
SMALL_EVOLUTION = Path("figures/out/small-evolution")
FINALIST_NOTE = "elimination finalists"
SEARCH_NOTE = "top of the search, not elimination finalists"


def options(description: str, default_name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--run-dir", default=None, help="a run or campaign directory (default: make a small run)")
    parser.add_argument("--out", default=f"figures/out/{default_name}", help="the file to write")
    return parser.parse_args()


@contextmanager
def read_only(run_dir: str | Path) -> Iterator[Store]:
    """A run directory's store, read-only; one that is not a run's ends the script with its error."""
    try:
        with Store.open_read_only(run_dir) as store:
            yield store
    except StoreError as error:
        raise SystemExit(f"error: {error}") from None


def study(run_dir: str | None) -> Study:
    """The correlation study of a run directory (its best 50; a campaign's: its preset's best k),
    or of a small new one (8 losses x 5 techniques, its best 4)."""
    if run_dir:
        with read_only(run_dir) as store:
            top_k = campaign.load(store).preset.top_k if store.meta(campaign.META) is not None else 50
            found = stored_study(store, top_k)
        if found is None:
            raise SystemExit(f"{run_dir} holds no correlation study (made by `symloss correlate`)")
        return found
    with Store(SMALL_STUDY, create=True) as store:
        return stored_study(store, top_k=4) or run_study(store, 8, TECHNIQUES, "demo", 0, top_k=4,
                                                          overrides={"steps": SMALL_STEPS})


def small_evolution() -> Path:
    """A small evolution run on the embedded data (made once, then reused)."""
    spec = runs.EvolveSpec(initial=6, population=3, tournament=2, iterations=4, train_overrides={"steps": SMALL_STEPS})
    if (SMALL_EVOLUTION / "store.sqlite").exists():
        store, run_id, spec = runs.reopen(SMALL_EVOLUTION)
    else:
        store, run_id = runs.start(SMALL_EVOLUTION, spec)
    with store:
        runs.run_evolution(store, run_id, spec)
    return SMALL_EVOLUTION


@dataclass(frozen=True)
class Finalist:
    label: str  # B0..A2 for an elimination's finalists, "base #1" for the top of a search
    technique: str
    fitness: float  # the elimination's mean fitness, or the search's best
    loss: Loss


@dataclass(frozen=True)
class Finalists:
    """The losses a run directory's figures show: by technique (base, cutout, mixup, randaug,
    all), best first within each; `note` says what they are, for titles and captions."""

    members: tuple[Finalist, ...]
    note: str

    @property
    def best(self) -> Finalist:
        """The highest fitness of all (the earliest of equals)."""
        return max(self.members, key=lambda f: f.fitness)

    @property
    def techniques(self) -> list[str]:
        return list(dict.fromkeys(f.technique for f in self.members))

    def of(self, technique: str) -> list[Finalist]:
        return [f for f in self.members if f.technique == technique]

    def losses(self, technique: str | None = None) -> dict[str, Loss]:
        """Label -> loss, of one technique or (None) of all."""
        return {f.label: f.loss for f in (self.of(technique) if technique else self.members)}


def finalist_losses(run_dir: str | Path | None) -> Finalists:
    """The losses of a run directory, opened read-only (None: the small run, made if needed).

    A campaign with finished eliminations (runs `eliminate-<technique>`): the finalists of each
    (symloss.campaign.finalists), labelled as the campaign labels them: B0-2, C0-2, M0-2, R0-2,
    A0-2, 0 the elimination's best. Otherwise each search of the store (a bare `evolve` run, or a
    campaign's `evolve-<technique>` runs): its best FINALISTS losses, labelled "<technique> #<rank>"
    and noted as not finalists."""
    with read_only(run_dir or small_evolution()) as store:
        eliminated = [t for t in TECHNIQUES if (store.run(campaign.eliminate_run(t)) or {}).get("status") == "done"]
        if eliminated:
            found = Finalists(tuple(f for t in eliminated for f in _elimination_finalists(store, t)), FINALIST_NOTE)
        else:
            found = Finalists(tuple(f for t, run_id in _searches(store) for f in _search_top(store, t, run_id)),
                              SEARCH_NOTE)
    if not found.members:
        raise SystemExit(f"{run_dir or SMALL_EVOLUTION} holds no evaluated loss to show")
    return found


def _elimination_finalists(store: Store, technique: str) -> list[Finalist]:
    chosen = []
    for rank, ranked in enumerate(campaign.finalists(store, technique)):
        label = campaign.finalist_label(technique, rank)
        loss = store.rebuild(ranked.genome, f"finalist {ranked.key} of {campaign.eliminate_run(technique)}", name=label)
        chosen.append(Finalist(label, technique, ranked.fitness, loss))
    return chosen


def _searches(store: Store) -> list[tuple[str, int]]:
    """(technique, run id) of each evolution in the store: a bare run's, or a campaign's."""
    bare = store.run(runs.EVOLVE_RUN)
    if bare is None:
        return [(t, run["id"]) for t in TECHNIQUES if (run := store.run(campaign.evolve_run(t))) is not None]
    technique = bare["config"].get("technique")
    if technique not in TECHNIQUES:
        raise StoreError(f"{store.path}: its evolution run has no known technique ({str(technique)[:40]!r})")
    return [(technique, bare["id"])]


def _search_top(store: Store, technique: str, run_id: int) -> list[Finalist]:
    chosen = []
    for rank, evaluation in enumerate(runs.top(store, run_id, FINALISTS), 1):
        label = f"{technique} #{rank}"
        chosen.append(Finalist(label, technique, evaluation.fitness, store.loss(evaluation, name=label)))
    return chosen


def write(text_or_path, out: str) -> None:
    """Write a table's text (or report a picture's path)."""
    if isinstance(text_or_path, str):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text_or_path)
    print(out)
