"""Regularized evolution (Real et al. 2019) as the paper ran it (SEARCH_SPACE.md, PROTOCOL.md 3.2).

The algorithm itself is `tournament`, `breed` and `age_and_replace`; the rest is bookkeeping.
A child whose evaluation fails is bred again from the same parent, up to `max_children`
children per iteration; when all fail, the population only ages. Each child draws its
randomness from its own generator, seeded by (seed, iteration) for the first and (seed,
iteration, retry) for the others: a run resumed from the store replays exactly.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .. import phenotype
from ..errors import ExpressionError, SymlossError
from ..genome import Genome
from ..store import EvaluationRow, Store
from ..train import Evaluation
from .driver import Pending, SearchContext
from .jobs import Candidate, Job
from .random_search import STAGE as RANDOM_STAGE
from .random_search import plan, train_candidates

EVOLUTION_STREAM = 1
STAGE = "evolve"
MAX_PARENT_DRAWS = 100
FAILED = frozenset({"early_stopped", "diverged", "failed"})  # stopped as degenerate, diverged, crashed


class SearchError(SymlossError, RuntimeError):
    """The search cannot go on (e.g. no novel child can be bred from the population)."""


@dataclass(frozen=True)
class EvolutionConfig:
    initial: int  # random losses evaluated first (paper: 1,000)
    population: int  # the best of them form the population (paper: 100)
    tournament: int  # members drawn with replacement per tournament (paper: 20)
    iterations: int  # children bred and evaluated (paper: 2,000)
    max_attempts: int = 2_500  # mutations tried per parent before drawing another
    min_distance: float = 0.01  # a child's phenotype must be further than this from every member's
    max_children: int = 7  # children bred per iteration while each fails (the reference code's 7)

    def __post_init__(self):
        if not 1 <= self.population <= self.initial:
            raise SearchError(f"population ({self.population}) must be between 1 and initial ({self.initial})")
        if self.tournament < 1 or self.iterations < 0 or self.max_children < 1:
            raise SearchError("tournament and max_children must be at least 1, iterations non-negative")


@dataclass
class Member:
    candidate: Candidate
    evaluation: EvaluationRow
    age: int

    @property
    def fitness(self) -> float:
        return self.evaluation.fitness


def tournament(population: list[Member], size: int, rng: np.random.Generator) -> Member:
    """The fittest of `size` members drawn uniformly with replacement (the first drawn on ties)."""
    drawn = rng.integers(len(population), size=size)
    return population[max(drawn, key=lambda i: population[i].fitness)]


def breed(population: list[Member], config: EvolutionConfig, rng: np.random.Generator,
          taken: set[str], parent: Member | None = None) -> tuple[Member, Candidate, int]:
    """(parent, child, attempts): a valid child of `parent` (None: a tournament's winner) whose
    key is not in `taken` and whose phenotype is further than min_distance from every member's;
    a parent that yields none in max_attempts mutations is replaced by another tournament's."""
    attempts = 0
    for _ in range(MAX_PARENT_DRAWS):
        if parent is None:
            parent = tournament(population, config.tournament, rng)
        for _ in range(config.max_attempts):
            attempts += 1
            child = _novel_child(parent.candidate.genome.mutate(rng), population, config, taken)
            if child is not None:
                return parent, child, attempts
        parent = None
    raise SearchError(f"no novel child after {attempts} mutations: the population has converged")


def _novel_child(genome: Genome, population: list[Member], config: EvolutionConfig,
                 taken: set[str]) -> Candidate | None:
    verdict = genome.check()
    if not verdict.valid:
        return None
    child = Candidate(genome.with_flip(verdict.flip))
    if any(phenotype.distance(child.phenotype, m.candidate.phenotype) <= config.min_distance for m in population):
        return None
    try:
        return None if child.key in taken else child
    except ExpressionError:
        return None


def age_and_replace(population: list[Member], child: Member | None) -> list[Member]:
    """Everyone ages by one; the child (None: none survived) takes the place of the worst member
    among the oldest."""
    for member in population:
        member.age += 1
    if child is None:
        return list(population)
    oldest = max(m.age for m in population)
    victim = min((i for i, m in enumerate(population) if m.age == oldest), key=lambda i: population[i].fitness)
    return population[:victim] + [child] + population[victim + 1:]


def _member(store: Store, evaluation_id: int, age: int) -> Member:
    evaluation = store.evaluation(evaluation_id)
    return Member(Candidate(Genome.from_dict(evaluation.genome)), evaluation, age)


def adopt(ctx: SearchContext, technique: str, rows: Sequence[EvaluationRow], count: int) -> None:
    """Take the first `count` of `rows` (another run's evaluations, e.g. a correlation study's,
    in the order drawn) trained in this run's setting as its random phase: one reuse row each
    (steps 0, reused_from that row), all in one transaction, nothing trained. A SearchError when
    fewer than `count` were trained in the run's setting; nothing when the run has its random phase."""
    store = ctx.store
    if store.evaluations(ctx.run_id, RANDOM_STAGE):
        return
    setting = ctx.make_job(Candidate(store.genome_of(rows[0])), technique).setting if rows else None
    chosen = [row for row in rows if row.setting == setting][:count]
    if len(chosen) < count:
        raise SearchError(f"{len(chosen)} of the losses given were trained in this run's setting ({setting}); "
                          f"its first population is chosen from {count}")
    with store.transaction():
        for row in chosen:
            candidate = Candidate(store.genome_of(row))
            ctx.record(RANDOM_STAGE, Pending(ctx.make_job(candidate, technique), row, None), candidate,
                       row.iteration, None)


def initial_population(store: Store, run_id: int, config: EvolutionConfig) -> list[Member]:
    """The best `population` of the random phase, all aged 0 (ties: the earlier drawn first)."""
    ranked = sorted(store.evaluations(run_id, RANDOM_STAGE), key=lambda e: (-e.fitness, e.iteration))
    return [_member(store, e.id, 0) for e in ranked[:config.population]]


@dataclass
class Breeding:
    """An iteration under way: its parent (the first tournament's, found again on resume), the
    state of its generator before that tournament, the keys of its children that failed."""

    seed: int
    iteration: int
    failed: list[str] = field(default_factory=list)
    parent: Member | None = None
    rng_state: dict | None = None

    def child(self, population: list[Member], config: EvolutionConfig,
              taken: set[str]) -> tuple[Member, Candidate, int]:
        """(parent, child, attempts) of the iteration's next child, never one that failed."""
        if self.parent is None:
            rng = np.random.default_rng([self.seed, EVOLUTION_STREAM, self.iteration])
            self.rng_state = rng.bit_generator.state
            self.parent, child, attempts = breed(population, config, rng, taken)
            if not self.failed:
                return self.parent, child, attempts
        rng = np.random.default_rng([self.seed, EVOLUTION_STREAM, self.iteration, len(self.failed)])
        return breed(population, config, rng, taken | set(self.failed), self.parent)


def regularized_evolution(ctx: SearchContext, config: EvolutionConfig, technique: str, seed: int) -> list[Member]:
    """Run (or resume) the random phase and the evolution; returns the final population
    (`ctx.progress` hears once per finished iteration)."""
    store, run_id = ctx.store, ctx.run_id
    if len(store.evaluations(run_id, RANDOM_STAGE)) < config.initial:
        train_candidates(ctx, plan(seed, config.initial), [technique])
    steps = store.iterations(run_id)
    population = ([_member(store, e, a) for e, a in steps[-1]["population"]] if steps
                  else initial_population(store, run_id, config))
    finished = {s["iteration"] for s in steps}
    unfinished = {t: Breeding(seed, t) for t in range(config.iterations) if t not in finished}
    for evaluation in store.evaluations(run_id, STAGE):  # the failed children of unfinished iterations
        if evaluation.iteration in unfinished:
            unfinished[evaluation.iteration].failed.append(evaluation.key)
    queue = deque(unfinished.values())
    in_flight: set[str] = set()

    def propose() -> Pending | None:
        if not queue:
            return None
        breeding = queue.popleft()
        parent, child, attempts = breeding.child(population, config, {m.candidate.key for m in population} | in_flight)
        in_flight.add(child.key)
        return ctx.pending(child, ctx.make_job(child, technique), (breeding, parent, child, attempts))

    def complete(pending: Pending, evaluation: Evaluation | None) -> None:
        nonlocal population
        breeding, parent, child, attempts = pending.context
        in_flight.discard(child.key)
        with store.transaction():
            row = store.evaluation(ctx.record(STAGE, pending, child, breeding.iteration, evaluation))
            if row.status in FAILED and len(breeding.failed) + 1 < config.max_children:
                breeding.failed.append(child.key)
                queue.appendleft(breeding)
                return
            updated = age_and_replace(population, None if row.status in FAILED else Member(child, row, 0))
            store.add_iteration(run_id=run_id, iteration=breeding.iteration, parent_evaluation=parent.evaluation.id,
                                evaluation_id=row.id, attempts=attempts, rng_state=breeding.rng_state,
                                population=[(m.evaluation.id, m.age) for m in updated])
        population = updated
        ctx.report(row.fitness)

    ctx.drive(propose, complete)
    return population


def evolve(store: Store, run_id: int, config: EvolutionConfig, technique: str, seed: int,
           make_job: Callable[[Candidate, str], Job], executor, fn,
           progress: Callable[[dict], None] | None = None) -> list[Member]:
    """`regularized_evolution` with its context spelled out (the older call)."""
    ctx = SearchContext(store, run_id, make_job, executor, fn, progress)
    return regularized_evolution(ctx, config, technique, seed)
