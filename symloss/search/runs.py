"""Search runs as users start, resume and read them: a run directory holding one store."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .. import executors, presets, zoo
from ..augment import TECHNIQUES
from ..errors import ConfigError
from ..store import EvaluationRow, Store, StoreError
from .driver import SearchContext
from .elimination import (ELIMINATION_PRESETS, FINALISTS, Ranked, Stage, best_evaluations, eliminate, ranking_after,
                          stage_settings, stage_tau)
from .evolution import STAGE as EVOLVE_STAGE
from .evolution import EvolutionConfig, Member, adopt, regularized_evolution
from .jobs import Candidate, Job, train_job
from .random_search import STAGE as RANDOM_STAGE

EVOLVE_RUN = "evolve"
BASELINE_STAGE = "baseline"
DEFAULT_ROOT = Path("runs")


@dataclass(frozen=True)
class EvolveSpec:
    """Everything that defines an evolution run (stored with it; a resume reads it back)."""

    preset: str = "demo"  # a search preset
    technique: str = "base"
    seed: int = 0
    initial: int | None = None  # None: the search preset's
    population: int | None = None
    tournament: int | None = None
    iterations: int | None = None
    data_root: str | None = None
    train_overrides: dict = field(default_factory=dict)  # e.g. {"steps": 100}
    initial_from: str | None = None  # a study run of the same store: the random phase is its losses, not trained again

    @property
    def search(self) -> presets.SearchPreset:
        return presets.search(self.preset)

    def config(self) -> EvolutionConfig:
        base = self.search
        return EvolutionConfig(
            initial=self.initial or base.initial, population=self.population or base.population,
            tournament=self.tournament or base.tournament,
            iterations=base.iterations if self.iterations is None else self.iterations)

    def job(self, candidate: Candidate, technique: str, preset: str | None = None, seed_offset: int = 0,
            overrides: dict | None = None) -> Job:
        """The training of a candidate: on the search's preset with the run's overrides, or on
        another preset; `overrides` apply on top of either."""
        chosen = {**(self.train_overrides if preset is None else {}), **(overrides or {})}
        return Job.of(candidate, technique, preset or self.search.train, self.seed + seed_offset,
                      self.data_root, tuple(sorted(chosen.items())))

    @property
    def carried_overrides(self) -> dict:
        """The run's training options that its trainings on other presets keep (the elimination's):
        the techniques' parameters, label smoothing and precision, not the search preset's steps."""
        return {k: v for k, v in self.train_overrides.items() if k in presets.CARRIED_OPTIONS}

    def validate(self) -> None:
        if self.technique not in TECHNIQUES:
            raise ConfigError(f"unknown augmentation technique {self.technique!r} (known: {', '.join(TECHNIQUES)})")
        presets.with_overrides(presets.get(self.search.train), **self.train_overrides)
        self.config()


def default_run_dir(spec: EvolveSpec) -> Path:
    return DEFAULT_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{spec.preset}-{spec.technique}"


def start(run_dir: str | Path, spec: EvolveSpec) -> tuple[Store, int]:
    """A new evolution run in `run_dir` (which must not hold one already)."""
    spec.validate()
    store = Store(run_dir, create=True)
    if store.run(EVOLVE_RUN) is not None:
        store.close()
        raise StoreError(f"{run_dir} already holds an evolution run: resume it with --resume {run_dir}")
    return store, store.create_run("evolve", EVOLVE_RUN, asdict(spec), spec.seed)


def evolution_run(store: Store, spec: EvolveSpec, name: str = EVOLVE_RUN) -> int:
    """The id of the evolution run `name` of `store`, created with `spec` when there is none; one
    made with another spec is a ConfigError (a campaign's runs keep the campaign's configuration)."""
    if store.run(name) is None:
        spec.validate()
    return store.open_run("evolve", name, asdict(spec), spec.seed)


def reopen(run_dir: str | Path) -> tuple[Store, int, EvolveSpec]:
    """The evolution run in `run_dir`, to resume or read."""
    store = Store(run_dir)
    run = store.run(EVOLVE_RUN)
    if run is None:
        store.close()
        raise StoreError(f"{run_dir} holds no evolution run")
    try:
        spec = EvolveSpec(**run["config"])
    except TypeError as error:
        store.close()
        raise StoreError(f"{run_dir}: its run configuration is not one this version reads ({error})") from None
    return store, run["id"], spec


def total_evaluations(spec: EvolveSpec) -> int:
    """The steps of a run's progress: its random losses, its iterations and the CE baseline."""
    config = spec.config()
    return config.initial + config.iterations + 1


def completed(store: Store, run_id: int) -> int:
    """The steps of `total_evaluations` the run has done (an iteration counts once, however
    many of its children failed)."""
    return (len(store.evaluations(run_id, RANDOM_STAGE)) + len(store.iterations(run_id))
            + len(store.evaluations(run_id, BASELINE_STAGE)))


def run_evolution(store: Store, run_id: int, spec: EvolveSpec, executor: executors.ExecutorLike = 1,
                  progress: Callable[[dict], None] | None = None, fn=train_job) -> list[Member]:
    """Evolve (resuming whatever the store already has), then train the CE baseline
    (`executor`: how evaluations run; an int is that many local evaluations in flight). With
    `spec.initial_from`, the random phase is that study's losses under the run's technique."""
    with executors.running(executor) as executor:
        ctx = SearchContext(store, run_id, spec.job, executor, fn, progress)
        if spec.initial_from is not None:
            adopt(ctx, spec.technique, study_rows(store, spec), spec.config().initial)
        population = regularized_evolution(ctx, spec.config(), spec.technique, spec.seed)
        baseline(ctx, spec.technique)
    store.set_status(run_id, "done")
    return population


def study_rows(store: Store, spec: EvolveSpec) -> list[EvaluationRow]:
    """The evaluations of the study `spec.initial_from` under the run's technique, in the order drawn."""
    study = store.run(spec.initial_from)
    if study is None:
        raise ConfigError(f"{store.directory} holds no study {spec.initial_from!r} to start the evolution from")
    rows = [e for e in store.evaluations(study["id"], RANDOM_STAGE) if e.technique == spec.technique]
    return sorted(rows, key=lambda e: (e.iteration, e.id))


def stored_baseline(store: Store, run_id: int) -> EvaluationRow | None:
    rows = store.evaluations(run_id, BASELINE_STAGE)
    return rows[0] if rows else None


def baseline(ctx: SearchContext, technique: str) -> EvaluationRow:
    """Cross-entropy (the CE genome) trained exactly as the run's losses were."""
    existing = stored_baseline(ctx.store, ctx.run_id)
    if existing is not None:
        return existing
    candidate = Candidate(zoo.ce_genome())
    queue = iter([ctx.pending(candidate, ctx.make_job(candidate, technique), (candidate, None))])
    ctx.run(BASELINE_STAGE, lambda: next(queue, None))
    return stored_baseline(ctx.store, ctx.run_id)


def top(store: Store, run_id: int | None, count: int | None = 5) -> list[EvaluationRow]:
    """The run's (None: every run's) distinct searched losses (random phase, evolution), best first."""
    searched = [e for stage in (RANDOM_STAGE, EVOLVE_STAGE) for e in store.evaluations(run_id, stage)]
    ranked = best_evaluations(searched)
    return ranked if count is None else ranked[:count]


def elimination_stages(preset: str) -> tuple[Stage, ...]:
    """The stages of an elimination preset (a ConfigError for an unknown one)."""
    if preset not in ELIMINATION_PRESETS:
        raise ConfigError(f"unknown elimination preset {preset!r} (known: {', '.join(ELIMINATION_PRESETS)})")
    return ELIMINATION_PRESETS[preset]


def elimination_jobs(spec: EvolveSpec, overrides: dict | None = None) -> Callable[[Candidate, str, Stage], Job]:
    """How the elimination of a run trains a loss at a stage (`overrides` change every stage's preset)."""
    def make_job(candidate: Candidate, technique: str, stage: Stage) -> Job:
        return spec.job(candidate, technique, stage.preset, stage.seed_offset, overrides)
    return make_job


def run_elimination(store: Store, run_id: int, spec: EvolveSpec, preset: str,
                    executor: executors.ExecutorLike = 1,
                    progress: Callable[[dict], None] | None = None, fn=train_job,
                    overrides: dict | None = None, name: str | None = None) -> list[Ranked]:
    """The elimination protocol over the run's searched losses, as stages of this store, in the
    run `name` (default eliminate-<preset>). Every stage trains with the run's carried options
    (EvolveSpec.carried_overrides) and `overrides` on top ({"steps": 50} for a quick look); None:
    those of the elimination already there. The run stores them: others are a ConfigError."""
    stages = elimination_stages(preset)
    name = name or f"eliminate-{preset}"
    chosen = _elimination_options(store, name, spec, overrides, keep_stored=overrides is None)
    elimination_id = store.open_run("eliminate", name, {"preset": preset, "overrides": chosen}, spec.seed)
    source = top(store, run_id, count=None)
    with executors.running(executor) as executor:
        ctx = SearchContext(store, elimination_id, elimination_jobs(spec, chosen), executor, fn, progress)
        finalists = eliminate(ctx, source, stages, spec.technique)
    store.set_status(elimination_id, "done")
    return finalists


def _elimination_options(store: Store, name: str, spec: EvolveSpec, overrides: dict | None, keep_stored: bool) -> dict:
    """The training options of the elimination `name`: those it stored (when `keep_stored` and it
    stored some: runs made before symloss stored them did not), else the run's carried options
    with `overrides` on top."""
    run = store.run(name)
    stored = run["config"].get("overrides") if run and keep_stored else None
    if stored is None:
        return {**spec.carried_overrides, **(overrides or {})}
    if not isinstance(stored, dict):
        raise StoreError(f"{store.path}: the options of its run {name} are not a JSON object")
    return stored


def elimination_finalists(store: Store, spec: EvolveSpec, preset: str, name: str,
                          overrides: dict | None = None) -> list[Ranked]:
    """The finalists of the finished elimination `name` (made by run_elimination with this spec,
    preset and, when it stored none, these overrides), as its last stage ranked them; a
    StoreError when it has not finished."""
    run = store.run(name)
    if run is None or run["status"] != "done":
        raise StoreError(f"{store.directory}: the elimination {name} has not finished")
    rows = store.evaluations(run["id"])
    if not rows:
        return []
    stages = elimination_stages(preset)
    chosen = _elimination_options(store, name, spec, overrides, keep_stored=True)
    settings = stage_settings(elimination_jobs(spec, chosen), rows[0].genome, spec.technique, stages)
    return ranking_after(store, run["id"], stages, settings)[:FINALISTS]


def elimination_tau(store: Store, preset: str, name: str | None = None) -> tuple[float, int]:
    """Kendall's tau between the elimination's first stage (the long surrogate training) and its
    second (the first large-model training), over the losses of the second (PROTOCOL 3.3), in
    the run `name` (default eliminate-<preset>)."""
    run = store.run(name or f"eliminate-{preset}")
    if run is None:
        return float("nan"), 0
    first, second = ELIMINATION_PRESETS[preset][:2]
    return stage_tau(store, run["id"], first, second)


def elimination_size(preset: str) -> int:
    return sum(stage.take for stage in ELIMINATION_PRESETS.get(preset, ()))
