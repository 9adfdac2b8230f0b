"""Search: random sampling, regularized evolution and the elimination protocol on a run store."""
from .driver import SearchContext
from .elimination import ELIMINATION_PRESETS, Ranked, Stage, best_by_key, eliminate
from .evolution import EvolutionConfig, Member, SearchError, evolve, regularized_evolution
from .jobs import Candidate, Job, train_job
from .random_search import plan, random_search, train_candidates

__all__ = ["Candidate", "ELIMINATION_PRESETS", "EvolutionConfig", "Job", "Member", "Ranked", "SearchContext",
           "SearchError", "Stage", "best_by_key", "eliminate", "evolve", "plan", "random_search",
           "regularized_evolution", "train_candidates", "train_job"]
