"""Studies over many evaluations: the augmentation correlation study, result tables."""
from .correlation import Study, best_k, clusters, correlate, kendall, run_study, stored_study
from .results import Summary, summarise
from .stats import kendall_tau

__all__ = ["Study", "Summary", "best_k", "clusters", "correlate", "kendall", "kendall_tau", "run_study", "stored_study",
           "summarise"]
