"""The augmentation correlation study (PROTOCOL.md 3.1): N random losses trained under each
technique; Kendall's tau between techniques over all losses and over each pair's best k;
agglomerative clusters of the losses by their accuracies."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Callable, Sequence

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from .. import executors
from ..search.jobs import Candidate, Job, train_job
from ..augment import TECHNIQUES
from ..search.random_search import STAGE, plan, random_search
from ..store import Store
from .stats import kendall_tau


@dataclass(frozen=True)
class Study:
    techniques: list[str]
    keys: list[str]  # one per loss, in the order of the accuracies
    accuracies: dict[str, list[float]]  # technique -> fitness of each loss
    tau: dict[str, dict[str, float]]  # "base-cutout" -> {"all": tau, "best": tau}
    top_k: int

    def to_dict(self) -> dict:
        return {"techniques": self.techniques, "losses": self.keys, "accuracies": self.accuracies,
                "tau": self.tau, "top_k": self.top_k}


def best_k(first: np.ndarray, second: np.ndarray, k: int) -> np.ndarray:
    """Indices of the losses in the top k of both accuracy vectors (ties: the earlier first)."""
    top = lambda values: set(np.argsort(-values, kind="stable")[:k].tolist())  # noqa: E731
    return np.array(sorted(top(first) & top(second)), dtype=int)


def kendall(accuracies: dict[str, Sequence[float]], techniques: Sequence[str], k: int) -> dict[str, dict[str, float]]:
    """Kendall's tau for every pair of techniques: over all losses, and over the pair's best k."""
    table = {}
    for a, b in combinations(techniques, 2):
        first, second = np.asarray(accuracies[a], float), np.asarray(accuracies[b], float)
        chosen = best_k(first, second, k)
        table[f"{a}-{b}"] = {"all": kendall_tau(first, second), "best": kendall_tau(first[chosen], second[chosen]),
                             "best_count": int(len(chosen))}
    return table


def clusters(first: Sequence[float], second: Sequence[float], count: int = 4) -> np.ndarray:
    """Agglomerative clusters (average linkage) of the points (first, second), labels 1..count."""
    points = np.column_stack([first, second]).astype(float)
    if len(points) < 2:
        return np.ones(len(points), dtype=int)
    return fcluster(linkage(points, method="average"), t=count, criterion="maxclust")


def correlate(store: Store, run_id: int, n: int, techniques: Sequence[str], seed: int,
              make_job: Callable[[Candidate, str], Job], executor, fn, top_k: int = 50,
              progress: Callable[[dict], None] | None = None) -> Study:
    """Train (or reuse from the store) n random valid losses under every technique; tabulate."""
    candidates = plan(seed, n)
    random_search(store, run_id, candidates, techniques, make_job, executor, fn, progress)
    settings = {make_job(candidates[0], t).setting for t in techniques}
    return study_of(store, run_id, [c.key for c in candidates], techniques, top_k, settings)


def study_of(store: Store, run_id: int, keys: Sequence[str], techniques: Sequence[str], top_k: int,
             settings: set[str] | None = None) -> Study:
    """The study's tables from the evaluations stored for `keys` under `techniques` (in `settings`
    when given; else the latest of each)."""
    fitness = {(e.technique, e.key): e.fitness for e in store.evaluations(run_id, STAGE)
               if settings is None or e.setting in settings}
    accuracies = {t: [fitness[(t, key)] for key in keys] for t in techniques}
    return Study(list(techniques), list(keys), accuracies, kendall(accuracies, techniques, top_k), top_k)


STUDY_RUN = "correlate"


def run_study(store: Store, n: int, techniques: Sequence[str], preset: str, seed: int, top_k: int = 50,
              executor: executors.ExecutorLike = 1, overrides: dict | None = None, data_root: str | None = None,
              progress: Callable[[dict], None] | None = None, fn=None) -> Study:
    """The study as a run of `store` (resumable: evaluations already there are not repeated; a
    study made with another preset, size, techniques, seed, options or data root is a ConfigError)."""
    config = {"preset": preset, "n": n, "techniques": list(techniques), "overrides": overrides or {},
              "data_root": data_root}
    run_id = store.open_run("correlate", STUDY_RUN, config, seed)
    extra = tuple(sorted((overrides or {}).items()))

    def make_job(candidate: Candidate, technique: str) -> Job:
        return Job.of(candidate, technique, preset, seed, data_root, extra)

    with executors.running(executor) as executor:
        study = correlate(store, run_id, n, techniques, seed, make_job, executor, fn or train_job, top_k, progress)
    store.set_status(run_id, "done")
    return study


def stored_study(store: Store, top_k: int = 50) -> Study | None:
    """The study a store holds (techniques and losses as evaluated), or None."""
    run = store.run(STUDY_RUN)
    if run is None:
        return None
    evaluations = store.evaluations(run["id"], STAGE)
    done = {(e.technique, e.key) for e in evaluations}
    techniques = [t for t in TECHNIQUES if any(technique == t for technique, _ in done)]
    order: dict[str, int] = {}
    for evaluation in evaluations:
        order.setdefault(evaluation.key, evaluation.iteration)
    complete = [k for k in sorted(order, key=order.get) if all((t, k) in done for t in techniques)]
    return study_of(store, run["id"], complete, techniques, top_k) if complete and techniques else None
