"""Search: random sampling, regularized evolution and the elimination protocol on a run store."""
from .elimination import ELIMINATION_PRESETS, Ranked, Stage, best_by_key, eliminate
from .evolution import EvolutionConfig, Member, SearchError, evolve
from .jobs import Candidate, Job, train_job
from .random_search import plan, random_search

__all__ = ["Candidate", "ELIMINATION_PRESETS", "EvolutionConfig", "Job", "Member", "Ranked", "SearchError",
           "Stage", "best_by_key", "eliminate", "evolve", "plan", "random_search", "train_job"]
