"""The elimination protocol (PROTOCOL.md 3.3): the best losses of a search, carried stage by
stage to longer training and a larger model, ranked after each stage by the mean fitness
of their runs on that stage's preset. Resumable: a stage skips the losses it already ran.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import fmean
from typing import Sequence

from ..genome import Genome
from ..store import EvaluationRow, Store
from ..study.stats import kendall_tau
from .driver import Pending, SearchContext
from .jobs import Candidate


@dataclass(frozen=True)
class Stage:
    name: str
    preset: str  # the training preset of this stage
    take: int  # how many of the ranking so far it trains
    seed_offset: int = 0  # repeated runs on one preset use different seeds


ELIMINATION_PRESETS: dict[str, tuple[Stage, ...]] = {
    "paper": (Stage("surrogate-long", "paper-surrogate-long", 100),
              Stage("large-1", "paper-wrn", 24),
              Stage("large-2", "paper-wrn", 12, seed_offset=1),
              Stage("large-3", "paper-wrn", 6, seed_offset=2)),
    "demo": (Stage("long", "demo-long", 10),  # every stage selects, as the paper's: 10 -> 6 -> 5 -> 4 -> 3
             Stage("large-1", "demo-large", 6),
             Stage("large-2", "demo-large", 5, seed_offset=1),
             Stage("large-3", "demo-large", 4, seed_offset=2)),
}
FINALISTS = 3


@dataclass(frozen=True)
class Ranked:
    key: str
    genome: dict
    fitness: float  # the mean over the runs that ranked it
    runs: int


def best_evaluations(evaluations: Sequence[EvaluationRow]) -> list[EvaluationRow]:
    """Each distinct loss's best evaluation, best first (ties: the earlier first)."""
    best: dict[str, EvaluationRow] = {}
    for evaluation in evaluations:
        if evaluation.genome is not None and (evaluation.key not in best or evaluation.fitness > best[evaluation.key].fitness):
            best[evaluation.key] = evaluation
    return sorted(best.values(), key=lambda e: (-e.fitness, e.id))


def best_by_key(evaluations: Sequence[EvaluationRow]) -> list[Ranked]:
    """Distinct losses by their best fitness (a search's own ranking)."""
    return [Ranked(e.key, e.genome, e.fitness, 1) for e in best_evaluations(evaluations)]


def mean_by_key(evaluations: Sequence[EvaluationRow]) -> list[Ranked]:
    """Distinct losses by the mean fitness of all their runs (ties: the earlier first)."""
    runs: dict[str, list[EvaluationRow]] = defaultdict(list)
    for evaluation in evaluations:
        runs[evaluation.key].append(evaluation)
    ranked = sorted(runs.values(), key=lambda rs: (-fmean(r.fitness for r in rs), rs[0].id))
    return [Ranked(rs[0].key, rs[0].genome, fmean(r.fitness for r in rs), len(rs)) for rs in ranked]


def eliminate(ctx: SearchContext, source: Sequence[EvaluationRow], stages: Sequence[Stage],
              technique: str) -> list[Ranked]:
    """Run (or resume) every stage (`ctx.make_job(candidate, technique, stage)`); returns the
    finalists ranked by the mean of their last-preset runs."""
    ranking = best_by_key(source)
    if not ranking:
        return []
    settings = stage_settings(ctx.make_job, ranking[0].genome, technique, stages)
    for index, stage in enumerate(stages):
        done = {e.key for e in ctx.store.evaluations(ctx.run_id, stage.name) if e.setting == settings[stage.name]}
        todo = iter([r for r in ranking[:stage.take] if r.key not in done])

        def propose(stage=stage, todo=todo) -> Pending | None:
            ranked = next(todo, None)
            if ranked is None:
                return None
            candidate = Candidate(Genome.from_dict(ranked.genome))
            return ctx.pending(candidate, ctx.make_job(candidate, technique, stage), (candidate, None))

        ctx.run(stage.name, propose)
        ranking = ranking_after(ctx.store, ctx.run_id, stages[:index + 1], settings)
    return ranking[:FINALISTS]


def stage_settings(make_job, genome: dict, technique: str, stages: Sequence[Stage]) -> dict[str, str]:
    """The setting each stage trains in (`make_job(candidate, technique, stage)`; any loss's `genome`
    serves: a setting does not depend on the loss)."""
    sample = Candidate(Genome.from_dict(genome))
    return {stage.name: make_job(sample, technique, stage).setting for stage in stages}


def stage_tau(store: Store, run_id: int, first: Stage, second: Stage) -> tuple[float, int]:
    """(Kendall's tau, losses) between two stages' fitness, over the losses both trained (a
    stage run in several settings: its latest evaluation of each loss)."""
    fitness = [{e.key: e.fitness for e in store.evaluations(run_id, stage.name)} for stage in (first, second)]
    keys = [key for key in fitness[1] if key in fitness[0]]
    return kendall_tau([fitness[0][k] for k in keys], [fitness[1][k] for k in keys]), len(keys)


def ranking_after(store: Store, run_id: int, stages: Sequence[Stage], settings: dict[str, str]) -> list[Ranked]:
    """The losses of the last stage, by the mean of all their runs on its preset (in these settings):
    after the protocol's last stage, its first FINALISTS are the finalists."""
    def rows(stage: Stage) -> list[EvaluationRow]:
        return [e for e in store.evaluations(run_id, stage.name) if e.setting == settings[stage.name]]

    last = stages[-1]
    present = {e.key for e in rows(last)}
    return mean_by_key([e for s in stages if s.preset == last.preset for e in rows(s) if e.key in present])
